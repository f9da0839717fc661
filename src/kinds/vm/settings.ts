/**
 * The VM's platform and scheduling settings that live in XAPI string maps (platform, HVM_boot_params,
 * VCPUs_params, blocked_operations, xenstore_data) or plain fields (start_delay, shutdown_delay): one
 * table says where each manifest field lives, how it is spelled on the wire, and what changing it
 * costs. The planner compares through it and apply writes through it, so the two cannot disagree.
 */
import type { VMRecord } from '../../model/observed.js';
import type { BootDevice, DesiredVM } from './desired.js';

type Spec = Pick<DesiredVM['spec'], 'coresPerSocket' | 'nestedVirtualization' | 'videoRam' | 'boot' | 'cpuCap' | 'cpuWeight'>;

/** The XAPI maps whose keys the table writes one by one. */
export type SettingMap = 'platform' | 'HVM_boot_params' | 'VCPUs_params';

/** One manifest field kept in one key of an XAPI map. */
export interface MapSetting {
  /** Manifest path, e.g. `spec.boot.firmware`. */
  path: string;
  /** Top-level spec field (what apply's changedFields names). */
  field: 'coresPerSocket' | 'nestedVirtualization' | 'videoRam' | 'boot' | 'cpuCap' | 'cpuWeight';
  map: SettingMap;
  key: string;
  /** The wire value the manifest asks for; undefined when it does not declare the field. */
  wanted(spec: Spec): string | undefined;
  /** The value on the record (undefined: key absent). */
  current(rec: VMRecord): string | undefined;
  /** XAPI reads it only when the domain is built: a running VM needs a restart for it to take effect. */
  atBoot: boolean;
  /** What the field does, for plan reasons. */
  what: string;
}

const LETTERS: Record<BootDevice, string> = { disk: 'c', cdrom: 'd', network: 'n' };
const DEVICES: Record<string, BootDevice> = { c: 'disk', d: 'cdrom', n: 'network' };

/** `[cdrom, disk]` → `dc` (XAPI's HVM_boot_params order). */
export function bootOrderLetters(order: readonly BootDevice[]): string {
  return order.map((d) => LETTERS[d]).join('');
}

/** `dc` → `[cdrom, disk]`; undefined when a letter is not one xops knows (a, floppy), so export leaves it out. */
export function bootOrderDevices(letters: string): BootDevice[] | undefined {
  const out: BootDevice[] = [];
  for (const l of letters.toLowerCase()) {
    const d = DEVICES[l];
    if (!d || out.includes(d)) return undefined;
    out.push(d);
  }
  return out.length > 0 ? out : undefined;
}

const map = (rec: VMRecord, m: SettingMap): Record<string, string> => ((rec as unknown as Record<string, Record<string, string> | undefined>)[m]) ?? {};
const str = (v: number | undefined) => (v === undefined ? undefined : String(v));
const bool = (v: boolean | undefined) => (v === undefined ? undefined : String(v));

/** Every map-kept setting, in the order plans list them. */
export const MAP_SETTINGS: readonly MapSetting[] = [
  { path: 'spec.coresPerSocket', field: 'coresPerSocket', map: 'platform', key: 'cores-per-socket', atBoot: true, what: 'cores per socket', wanted: (s) => str(s.coresPerSocket), current: (r) => map(r, 'platform')['cores-per-socket'] },
  {
    path: 'spec.nestedVirtualization', field: 'nestedVirtualization', map: 'platform', key: 'nested-virt', atBoot: true, what: 'nested virtualisation',
    wanted: (s) => bool(s.nestedVirtualization),
    // Older XAPI spelled it exp-nested-hvm; either one on the record counts.
    current: (r) => map(r, 'platform')['nested-virt'] ?? map(r, 'platform')['exp-nested-hvm'],
  },
  { path: 'spec.videoRam', field: 'videoRam', map: 'platform', key: 'videoram', atBoot: true, what: 'video memory', wanted: (s) => str(s.videoRam), current: (r) => map(r, 'platform')['videoram'] },
  { path: 'spec.boot.order', field: 'boot', map: 'HVM_boot_params', key: 'order', atBoot: false, what: 'the boot order', wanted: (s) => (s.boot?.order ? bootOrderLetters(s.boot.order) : undefined), current: (r) => map(r, 'HVM_boot_params')['order'] },
  { path: 'spec.boot.firmware', field: 'boot', map: 'HVM_boot_params', key: 'firmware', atBoot: true, what: 'the firmware', wanted: (s) => s.boot?.firmware, current: (r) => map(r, 'HVM_boot_params')['firmware'] ?? 'bios' },
  { path: 'spec.boot.secureBoot', field: 'boot', map: 'platform', key: 'secureboot', atBoot: true, what: 'secure boot', wanted: (s) => bool(s.boot?.secureBoot), current: (r) => map(r, 'platform')['secureboot'] ?? 'false' },
  { path: 'spec.cpuCap', field: 'cpuCap', map: 'VCPUs_params', key: 'cap', atBoot: false, what: 'the CPU cap', wanted: (s) => str(s.cpuCap), current: (r) => map(r, 'VCPUs_params')['cap'] ?? '0' },
  { path: 'spec.cpuWeight', field: 'cpuWeight', map: 'VCPUs_params', key: 'weight', atBoot: false, what: 'the CPU weight', wanted: (s) => str(s.cpuWeight), current: (r) => map(r, 'VCPUs_params')['weight'] ?? '256' },
];

/** The keys of each map that `fields` (top-level spec fields) ask apply to write, with their wire values. */
export function mapKeysToWrite(spec: Spec, fields: ReadonlySet<string>): Map<SettingMap, Record<string, string>> {
  const out = new Map<SettingMap, Record<string, string>>();
  for (const s of MAP_SETTINGS) {
    if (!fields.has(s.field)) continue;
    const v = s.wanted(spec);
    if (v === undefined) continue;
    const keys = out.get(s.map) ?? {};
    keys[s.key] = v;
    out.set(s.map, keys);
  }
  return out;
}

/** XAPI's blocked_operations as the sorted list of blocked operations (the values are reasons, not compared). */
export function blockedOperationsOf(rec: VMRecord): string[] {
  const blocked = (rec as unknown as { blocked_operations?: Record<string, string> }).blocked_operations ?? {};
  return Object.keys(blocked).sort();
}
