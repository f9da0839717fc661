/**
 * The simulated guests: what is installed inside each VM and what its guest agent reports.
 *
 * On a real pool, XAPI only learns about the inside of a guest from its agent: the agent writes to xenstore and
 * XAPI turns that into a VM_guest_metrics record (xen-api ocaml/xapi/xapi_guest_agent.ml). Whether that record
 * exists, and what it says about PV drivers, decides what XAPI lets a client do to a running HVM guest: hot-plugging
 * disks and NICs (ocaml/xapi/xapi_vbd_helpers.ml, xapi_vif_helpers.ml), the guest-assisted operations it lists in
 * allowed_operations and live vCPU changes (check_op_for_feature in ocaml/xapi/xapi_vm_lifecycle.ml).
 *
 * The simulator keeps, per VM (templates and snapshots included), a GuestProfile: the OS in its disk image and
 * whether that OS runs the tools (agent + PV drivers). Clones and copies inherit their source's profile, as they
 * inherit its disks. When a VM with tools boots, its agent reports: immediately on start (the default), or, with
 * `agentReports: 'manual'`, only when a test calls `report()` — never after a wall-clock delay. The rules that
 * read the resulting guest metrics are in guest-rules.ts.
 */
import type { SimDatabase } from '../database.js';
import { fail } from '../errors.js';
import { NULL_REF, xapiDate } from '../ids.js';
import { storedVdiContent } from '../vdi-content/handlers.js';
import { isoLabel, readIsoRootFile } from '../vdi-content/iso9660.js';
import { staticAddresses, type StaticAddresses } from './network-config.js';

/** The OS installed in a VM's image, as its agent would report it in VM_guest_metrics.os_version. */
export interface GuestOs {
  /** `os_version.distro`: debian, ubuntu, rhel, windows... */
  distro: string;
  /** `os_version.name`, the OS's pretty name. */
  name: string;
  major?: string;
  minor?: string;
  uname?: string;
}

/** Tri-state answers the agent gives for `feature/hotplug/vbd` and `feature/hotplug/vif`. */
export type Tristate = 'yes' | 'no' | 'unspecified';

/**
 * What is inside a VM. `tools: false` is an OS without agent or PV drivers (or no OS at all): XAPI never gets guest
 * metrics for it. With tools, the agent reports the OS, the drivers' version and the guest's IP addresses.
 */
export interface GuestProfile {
  os?: GuestOs;
  tools: boolean;
  /** PV drivers version reported by the agent, "major.minor.micro" (default 9.4.0). */
  toolsVersion?: string;
  /** Default 'unspecified' (XAPI then relies on PV_drivers_detected). */
  canUseHotplugVbd?: Tristate;
  canUseHotplugVif?: Tristate;
  /**
   * Extra entries for VM_guest_metrics.other (e.g. `"data-cant-suspend-reason"`). With tools the agent already
   * announces feature-shutdown, -poweroff, -reboot, -suspend and -vcpu-hotplug.
   */
  other?: Record<string, string>;
}

/** When a booted guest's agent reports: right as VM.start returns, or only on an explicit `report()`. */
export type AgentReports = 'on-start' | 'manual';

/** A guest with no OS that XAPI could learn anything about (what VM.create makes). */
export const NO_GUEST: GuestProfile = Object.freeze({ tools: false });

interface DhcpRange {
  readonly base: number;
  readonly size: number;
  readonly leases: Map<string, number>;
}

/** The label cloud-init's NoCloud source looks for, and the most of network-config a guest reads. */
const CONFIG_DRIVE_LABEL = 'cidata';
const MAX_NETWORK_CONFIG = 1024 * 1024;

const FEATURES = { 'feature-shutdown': '1', 'feature-poweroff': '1', 'feature-reboot': '1', 'feature-suspend': '1', 'feature-vcpu-hotplug': '1', 'has-vendor-device': '0' };
const MAX_RANGE = 65_536;

function ipToInt(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new Error(`invalid IPv4 address ${JSON.stringify(ip)}`);
  return m.slice(1).reduce((a, x) => a * 256 + Number(x), 0);
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const MAX_TEXT = 256;
const MAX_OTHER_KEYS = 64;

function text(v: unknown, where: string, field: string): string {
  const s = String(v);
  if (s.length > MAX_TEXT) throw new Error(`${where}: guest.${field} is longer than ${MAX_TEXT} characters`);
  return s;
}

/** Checks a profile given by a seed or the control endpoint (strings and maps bounded); returns a clean copy. */
export function parseGuestProfile(input: unknown, where: string): GuestProfile {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error(`${where}: guest must be an object`);
  const g = input as Record<string, unknown>;
  if (typeof g.tools !== 'boolean') throw new Error(`${where}: guest.tools must be true or false`);
  const out: GuestProfile = { tools: g.tools };
  if (g.os !== undefined) {
    const os = g.os as Record<string, unknown>;
    if (typeof os !== 'object' || os === null || typeof os.distro !== 'string' || typeof os.name !== 'string') {
      throw new Error(`${where}: guest.os needs string fields distro and name`);
    }
    out.os = { distro: text(os.distro, where, 'os.distro'), name: text(os.name, where, 'os.name') };
    for (const k of ['major', 'minor', 'uname'] as const) {
      if (os[k] !== undefined) out.os[k] = text(os[k], where, `os.${k}`);
    }
  }
  if (g.toolsVersion !== undefined) {
    if (typeof g.toolsVersion !== 'string' || !/^\d+\.\d+(\.\d+)?$/.test(g.toolsVersion)) throw new Error(`${where}: guest.toolsVersion must look like 9.4.0`);
    out.toolsVersion = g.toolsVersion;
  }
  for (const k of ['canUseHotplugVbd', 'canUseHotplugVif'] as const) {
    const v = g[k];
    if (v === undefined) continue;
    if (v !== 'yes' && v !== 'no' && v !== 'unspecified') throw new Error(`${where}: guest.${k} must be yes, no or unspecified`);
    out[k] = v;
  }
  if (g.other !== undefined) {
    if (typeof g.other !== 'object' || g.other === null) throw new Error(`${where}: guest.other must be a string map`);
    const entries = Object.entries(g.other as Record<string, unknown>);
    if (entries.length > MAX_OTHER_KEYS) throw new Error(`${where}: guest.other has more than ${MAX_OTHER_KEYS} keys`);
    out.other = Object.fromEntries(entries.map(([k, v]) => [text(k, where, 'other key'), text(v, where, `other.${k}`)]));
  }
  return out;
}

/**
 * Per-VM guest profiles, the agent's reports and the DHCP leases guests get. One per simulator; behaviour code
 * reaches it through `SimCore.guests`, tests through `sim.guests` or `/_sim/guests`.
 */
export class GuestAgents {
  private readonly db: SimDatabase;
  private readonly profiles = new Map<string, GuestProfile>();
  private readonly ranges = new Map<string, DhcpRange>();
  /** Static addresses each guest's cloud-init configured from its config drive; kept after the drive is gone, as the guest keeps its config. */
  private readonly configured = new Map<string, Map<string, StaticAddresses>>();
  /** When agents of freshly started guests report (see AgentReports). */
  agentReports: AgentReports = 'on-start';
  /** Called after guest metrics change, so VM and device allowed_operations can be recomputed. */
  onChange: (vm: string) => void = () => {};

  constructor(db: SimDatabase) {
    this.db = db;
  }

  /** The profile of `vm` (NO_GUEST when nothing was installed). */
  profile(vm: string): GuestProfile {
    return this.profiles.get(vm) ?? NO_GUEST;
  }

  /**
   * Installs (or replaces) what is inside `vm`. On a running VM the effect is immediate: new tools report at once
   * (unless agents report manually), removed tools take the guest metrics with them.
   */
  setProfile(vm: string, profile: GuestProfile): void {
    this.db.expect('VM', vm);
    this.profiles.set(vm, profile);
    if (!this.isLive(vm)) return;
    if (!profile.tools) this.dropMetrics(vm);
    else if (this.agentReports === 'on-start' || this.hasMetrics(vm)) this.report(vm);
  }

  /** A new VM made from `source` (clone, copy, snapshot) carries the same image, hence the same guest. */
  inherit(source: string, copy: string): void {
    const p = this.profiles.get(source);
    if (p) this.profiles.set(copy, p);
  }

  /** Forgets a destroyed VM. */
  forget(vm: string): void {
    this.profiles.delete(vm);
    this.configured.delete(vm);
  }

  /**
   * The VM's domain was (re)built: XAPI drops the old guest metrics (xapi_vm.ml start, "addresses inherited by a
   * cloned VM"), and a guest with tools reports again once its agent is up.
   */
  booted(vm: string): void {
    this.dropMetrics(vm);
    if (this.profile(vm).tools && this.agentReports === 'on-start') this.report(vm);
  }

  /** The domain is gone: the last report stays, no longer live. */
  halted(vm: string): void {
    const gm = this.metricsOf(vm);
    if (gm && gm.rec.live !== false) {
      this.db.set(gm.ref, 'live', false);
      this.onChange(vm);
    }
  }

  /**
   * The agent of running `vm` reports now: creates its VM_guest_metrics or refreshes it (networks follow the VIFs
   * it has). Fails with VM_BAD_POWER_STATE when it is not running and VM_MISSING_PV_DRIVERS when it has no tools.
   */
  report(vm: string): string {
    const rec = this.db.expect('VM', vm).rec;
    if (!this.isLive(vm)) throw fail('VM_BAD_POWER_STATE', vm, 'running', String(rec.power_state).toLowerCase());
    const p = this.profile(vm);
    if (!p.tools) throw fail('VM_MISSING_PV_DRIVERS', vm);
    const [major = '9', minor = '4', micro = '0'] = (p.toolsVersion ?? '9.4.0').split('.');
    const os: Record<string, string> = {};
    if (p.os) {
      os.name = p.os.name;
      os.distro = p.os.distro;
      if (p.os.major !== undefined) os.major = p.os.major;
      if (p.os.minor !== undefined) os.minor = p.os.minor;
      if (p.os.uname !== undefined) os.uname = p.os.uname;
    }
    const fields = {
      os_version: os,
      // Windows drivers report a build number; the Linux agent does not (xapi_pv_driver_version.ml).
      PV_drivers_version: { major, minor, micro, ...(p.os?.distro === 'windows' ? { build: '0' } : {}) },
      PV_drivers_detected: true,
      PV_drivers_up_to_date: true,
      networks: this.networksOf(vm),
      other: { ...FEATURES, ...(p.other ?? {}) },
      live: true,
      can_use_hotplug_vbd: p.canUseHotplugVbd ?? 'unspecified',
      can_use_hotplug_vif: p.canUseHotplugVif ?? 'unspecified',
      last_updated: xapiDate(),
    };
    const existing = this.metricsOf(vm);
    let ref: string;
    if (existing) {
      this.db.update(existing.ref, fields);
      ref = existing.ref;
    } else {
      ref = this.db.create('VM_guest_metrics', { ...fields, netbios_name: {}, services: {}, other_config: {} });
      this.db.set(vm, 'guest_metrics', ref);
    }
    this.onChange(vm);
    return ref;
  }

  /**
 * Reports for every running VM with tools that has not reported since it booted (for `agentReports: 'manual'`);
 * returns the guest metrics refs.
 */
  reportAll(): string[] {
    const done: string[] = [];
    for (const vm of this.db.all('VM')) {
      if (vm.rec.is_control_domain || !this.isLive(vm.ref) || !this.profile(vm.ref).tools || this.hasMetrics(vm.ref)) continue;
      done.push(this.report(vm.ref));
    }
    return done;
  }

  /**
   * Sets the addresses guests on `network` lease from: `size` consecutive IPv4 addresses from `first`. Leases are
   * per MAC, so a VIF keeps its address across reboots. Default: 10.N.0.10 onwards, N the network's seed index + 1.
   */
  setDhcpRange(network: string, first: string, size: number): void {
    this.db.expect('network', network);
    if (!Number.isInteger(size) || size < 1 || size > MAX_RANGE) throw new Error(`DHCP range size must be 1..${MAX_RANGE}`);
    this.ranges.set(network, { base: ipToInt(first), size, leases: new Map() });
  }

  /** The address the guest behind a VIF with `mac` on `network` gets (allocating a lease on first use). */
  lease(network: string, mac: string): string {
    const range = this.rangeOf(network);
    const key = mac.toLowerCase();
    let offset = range.leases.get(key);
    if (offset === undefined) {
      const taken = new Set(range.leases.values());
      offset = 0;
      while (taken.has(offset)) offset++;
      if (offset >= range.size) throw fail('INTERNAL_ERROR', `simulated DHCP range of network ${network} is exhausted`);
      range.leases.set(key, offset);
    }
    return intToIp(range.base + offset);
  }

  /** What the control endpoint shows: mode and each VM's profile. */
  state(): { agentReports: AgentReports; guests: Record<string, GuestProfile & { name_label: string; guest_metrics: string }> } {
    const guests: Record<string, GuestProfile & { name_label: string; guest_metrics: string }> = {};
    for (const [vm, p] of this.profiles) {
      const rec = this.db.get(vm)?.rec;
      if (rec) guests[vm] = { ...p, name_label: String(rec.name_label), guest_metrics: String(rec.guest_metrics) };
    }
    return { agentReports: this.agentReports, guests };
  }

  private rangeOf(network: string): DhcpRange {
    let r = this.ranges.get(network);
    if (!r) {
      const index = [...this.db.all('network')].findIndex((n) => n.ref === network);
      r = { base: ipToInt(`10.${(Math.max(0, index) + 1) % 256}.0.10`), size: 240, leases: new Map() };
      this.ranges.set(network, r);
    }
    return r;
  }

  /**
   * The addresses the agent reports, keyed as XAPI does (xen-api ocaml/xapi/xapi_guest_agent.ml: `N/ip` is the
   * first IPv4 address of VIF N, also `N/ipv4/0`; further ones `N/ipv4/i`, IPv6 `N/ipv6/i`): the static ones its
   * config drive's network-config gives a VIF, else a DHCP lease.
   */
  private networksOf(vm: string): Record<string, string> {
    const out: Record<string, string> = {};
    const vifs = (this.db.record(vm).VIFs as string[]).map((r) => this.db.get(r)?.rec).filter((v) => v?.currently_attached);
    const configured = this.networkConfigOf(vm, vifs.map((v) => ({ device: String(v!.device), mac: String(v!.MAC) })));
    for (const vif of vifs) {
      const fixed = configured?.get(String(vif!.device));
      const ipv4 = fixed ? fixed.ipv4 : [this.lease(vif!.network as string, vif!.MAC as string)];
      if (ipv4[0] !== undefined) out[`${vif!.device}/ip`] = ipv4[0];
      ipv4.forEach((ip, i) => (out[`${vif!.device}/ipv4/${i}`] = ip));
      (fixed?.ipv6 ?? []).forEach((ip, i) => (out[`${vif!.device}/ipv6/${i}`] = ip));
    }
    return out;
  }

  /**
   * What cloud-init in the guest made of a NoCloud drive (a disk whose ISO 9660 label is `cidata`) with a
   * network-config: read from the VDI's stored content the first time, then remembered.
   */
  private networkConfigOf(vm: string, nics: { device: string; mac: string }[]): Map<string, StaticAddresses> | undefined {
    for (const vbdRef of this.db.record(vm).VBDs as string[]) {
      const vbd = this.db.get(vbdRef)?.rec;
      if (!vbd || vbd.empty || vbd.VDI === NULL_REF) continue;
      const content = storedVdiContent(this.db, String(vbd.VDI));
      if (!content) continue;
      const read = (offset: number, length: number) => content.read(offset, length);
      if (isoLabel(read) !== CONFIG_DRIVE_LABEL) continue;
      const file = readIsoRootFile(read, 'network-config', MAX_NETWORK_CONFIG);
      if (file) this.configured.set(vm, staticAddresses(file.toString('utf8'), nics));
      break;
    }
    return this.configured.get(vm);
  }

  private isLive(vm: string): boolean {
    const s = this.db.get(vm)?.rec.power_state;
    return s === 'Running' || s === 'Paused';
  }

  private metricsOf(vm: string) {
    const gm = this.db.get(vm)?.rec.guest_metrics as string | undefined;
    const o = gm && gm !== NULL_REF ? this.db.get(gm) : undefined;
    return o && o.cls.name === 'VM_guest_metrics' ? o : undefined;
  }

  private hasMetrics(vm: string): boolean {
    return this.metricsOf(vm)?.rec.live === true;
  }

  private dropMetrics(vm: string): void {
    const gm = this.metricsOf(vm);
    if (!gm) return;
    this.db.set(vm, 'guest_metrics', NULL_REF);
    this.db.destroy(gm.ref);
    this.onChange(vm);
  }

  /** Keeps the reported networks in step after a VIF was plugged or unplugged. */
  vifsChanged(vm: string): void {
    const gm = this.metricsOf(vm);
    if (gm && gm.rec.live) this.db.set(gm.ref, 'networks', this.networksOf(vm));
  }
}
