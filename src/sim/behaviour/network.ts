import type { Call, Handler } from '../core.js';
import type { SimDatabase } from '../database.js';
import { fail } from '../errors.js';
import { assertValidVifDevice, assertVifOperation, refreshDeviceOperations } from './devices.js';
import { constructorFields } from '../generic.js';
import { NULL_REF, xapiDate } from '../ids.js';
import { createVif } from './objects.js';

const MAC_RE = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;
const RESERVED_BRIDGE_PREFIXES = ['xen', 'xapi', 'vif', 'tap', 'eth'];

function nextBridge(db: SimDatabase): string {
  const used = new Set([...db.all('network')].map((n) => n.rec.bridge));
  let i = 0;
  while (used.has(`xapi${i}`)) i++;
  return `xapi${i}`;
}

/** The PIF a host already has on `network`, if any. */
function pifOnNetwork(db: SimDatabase, host: string, network: string): string | undefined {
  return (db.record(network).PIFs as string[]).find((p) => db.get(p)?.rec.host === host);
}

function createVlan(db: SimDatabase, taggedPif: string, tag: number, network: string): string {
  const pif = db.expect('PIF', taggedPif).rec;
  const net = db.expect('network', network).rec;
  if (tag < 0 || tag > 4094) throw fail('VLAN_TAG_INVALID', tag);
  if (net.managed === false) throw fail('NETWORK_UNMANAGED', network);
  const existing = pifOnNetwork(db, pif.host as string, network);
  if (existing) throw fail('NETWORK_ALREADY_CONNECTED', pif.host as string, existing);
  if ((pif.VLAN as number) >= 0) throw fail('PIF_IS_VLAN', taggedPif);
  if (pif.bond_slave_of && pif.bond_slave_of !== NULL_REF) throw fail('PIF_ALREADY_BONDED', taggedPif);
  for (const v of pif.VLAN_slave_of as string[]) {
    if (db.get(v)?.rec.tag === tag) throw fail('PIF_VLAN_EXISTS', pif.device as string);
  }
  const untagged = db.create('PIF', {
    device: pif.device,
    network,
    host: pif.host,
    MAC: 'fe:ff:ff:ff:ff:ff',
    MTU: pif.MTU,
    VLAN: tag,
    metrics: pif.metrics,
    physical: false,
    currently_attached: true,
    managed: true,
    ip_configuration_mode: 'None',
    primary_address_type: pif.primary_address_type,
    bond_slave_of: NULL_REF,
    VLAN_master_of: NULL_REF,
    other_config: {},
  });
  const vlan = db.create('VLAN', { tagged_PIF: taggedPif, untagged_PIF: untagged, tag, other_config: {} });
  db.set(untagged, 'VLAN_master_of', vlan);
  return vlan;
}

/** A host's PIF on `device` that is not itself a VLAN: where a VLAN on that device is tagged. */
function untaggedPifOn(db: SimDatabase, host: string, device: unknown): string | undefined {
  return (db.record(host).PIFs as string[]).find((p) => db.get(p)?.rec.device === device && db.get(p)?.rec.VLAN === -1);
}

/** `pool.create_VLAN*`: the VLAN on every host that has `device`; returns the new untagged PIFs. */
function createVlanOnEveryHost(c: Call, device: unknown, network: string, tag: number): string[] {
  c.db.expect('network', network);
  const out: string[] = [];
  for (const host of c.core.hostRefs()) {
    const pif = untaggedPifOn(c.db, host, device);
    if (pif) out.push(c.db.record(createVlan(c.db, pif, tag, network)).untagged_PIF as string);
  }
  return out;
}

function destroyVlan(db: SimDatabase, vlan: string): void {
  const v = db.expect('VLAN', vlan).rec;
  const untagged = db.get(v.untagged_PIF as string);
  if (untagged) {
    if (untagged.rec.bond_slave_of && untagged.rec.bond_slave_of !== NULL_REF) throw fail('PIF_ALREADY_BONDED', untagged.ref);
    if (untagged.rec.management) throw fail('PIF_IS_MANAGEMENT_INTERFACE', untagged.ref);
  }
  db.destroy(vlan);
  if (untagged) db.destroy(untagged.ref);
}

/** Moves IP configuration and the management role from one PIF to another (bond creation and removal). */
function moveIpConfig(db: SimDatabase, from: string, to: string): void {
  const f = db.record(from);
  if (f.ip_configuration_mode === 'None' && !f.management) return;
  db.update(to, { ip_configuration_mode: f.ip_configuration_mode, IP: f.IP, netmask: f.netmask, gateway: f.gateway, DNS: f.DNS, management: f.management });
  db.update(from, { ip_configuration_mode: 'None', IP: '', netmask: '', gateway: '', DNS: '', management: false });
}

function checkVifDeviceFree(db: SimDatabase, vm: string, device: string): void {
  for (const v of db.record(vm).VIFs as string[]) if (db.get(v)?.rec.device === device) throw fail('DEVICE_ALREADY_EXISTS', device);
}

/** network, PIF, VLAN, Bond and VIF behaviour. */
export function networkHandlers(): Record<string, Handler> {
  return {
    'network.create': (c) => {
      const fields = constructorFields(c.db, c.db.classOf('network'), c.args[0] as Record<string, unknown>);
      let bridge = String(fields.bridge ?? '');
      if (bridge === '') bridge = nextBridge(c.db);
      else {
        if (bridge.length > 15 || RESERVED_BRIDGE_PREFIXES.some((p) => bridge.startsWith(p))) throw fail('INVALID_VALUE', 'bridge', bridge);
        if ([...c.db.all('network')].some((n) => n.rec.bridge === bridge)) throw fail('BRIDGE_NAME_EXISTS', bridge);
      }
      const mtu = Number(fields.MTU ?? 1500);
      return c.db.create('network', {
        ...fields,
        bridge,
        MTU: mtu > 0 ? mtu : 1500,
        purpose: [],
        default_locking_mode: 'unlocked',
        blobs: {},
        assigned_ips: {},
        managed: fields.managed ?? true,
      });
    },
    'network.destroy': (c) => {
      const net = c.db.expect('network', c.args[0]);
      const vifs = (net.rec.VIFs as string[]).filter((v) => c.db.get(v)?.rec.currently_attached);
      if (vifs.length > 0) throw fail('NETWORK_CONTAINS_VIF', ...vifs);
      const pifs = net.rec.PIFs as string[];
      if (pifs.length > 0) throw fail('NETWORK_CONTAINS_PIF', ...pifs);
      c.db.destroy(net.ref);
    },

    'VLAN.create': (c) => createVlan(c.db, c.db.expect('PIF', c.args[0]).ref, c.args[1] as number, c.db.expect('network', c.args[2]).ref),
    'VLAN.destroy': (c) => destroyVlan(c.db, c.db.expect('VLAN', c.args[0]).ref),
    'pool.create_VLAN': (c) => {
      const [device, network, tag] = c.args as [string, string, number];
      return createVlanOnEveryHost(c, device, network, tag);
    },
    'pool.create_VLAN_from_PIF': (c) => {
      const [pifRef, network, tag] = c.args as [string, string, number];
      return createVlanOnEveryHost(c, c.db.expect('PIF', pifRef).rec.device, network, tag);
    },
    'PIF.create_VLAN': (c) => {
      const [device, network, host, tag] = c.args as [string, string, string, number];
      c.db.expect('host', host);
      const pif = untaggedPifOn(c.db, host, device);
      if (!pif) throw fail('INVALID_VALUE', 'device', device);
      return c.db.record(createVlan(c.db, pif, tag, c.db.expect('network', network).ref)).untagged_PIF;
    },

    'PIF.plug': (c) => c.db.set(c.db.expect('PIF', c.args[0]).ref, 'currently_attached', true),
    'PIF.unplug': (c) => {
      const pif = c.db.expect('PIF', c.args[0]);
      if (pif.rec.management) throw fail('PIF_IS_MANAGEMENT_INTERFACE', pif.ref);
      if (pif.rec.disallow_unplug) throw fail('PIF_DOES_NOT_ALLOW_UNPLUG', pif.ref);
      c.db.set(pif.ref, 'currently_attached', false);
    },
    'PIF.destroy': (c) => {
      const pif = c.db.expect('PIF', c.args[0]);
      if (pif.rec.physical) throw fail('PIF_IS_PHYSICAL', pif.ref);
      const vlan = pif.rec.VLAN_master_of as string;
      if (vlan && vlan !== NULL_REF && c.db.get(vlan)) destroyVlan(c.db, vlan);
      else c.db.destroy(pif.ref);
    },
    'PIF.reconfigure_ip': (c) => {
      const [pif, mode, ip, netmask, gateway, dns] = c.args as string[];
      c.db.expect('PIF', pif);
      c.db.update(pif!, { ip_configuration_mode: mode, IP: ip, netmask, gateway, DNS: dns });
    },
    'PIF.scan': (c) => {
      c.db.expect('host', c.args[0]);
    },
    'host.management_reconfigure': (c) => {
      const pif = c.db.expect('PIF', c.args[0]);
      for (const p of c.db.record(pif.rec.host as string).PIFs as string[]) {
        if (p !== pif.ref && c.db.get(p)?.rec.management) c.db.set(p, 'management', false);
      }
      c.db.set(pif.ref, 'management', true);
    },

    'Bond.create': (c) => createBond(c),
    'Bond.destroy': (c) => {
      const bond = c.db.expect('Bond', c.args[0]);
      const master = bond.rec.master as string;
      const slaves = [...(bond.rec.slaves as string[])];
      const primary = (bond.rec.primary_slave as string) !== NULL_REF ? (bond.rec.primary_slave as string) : slaves[0];
      if (primary && c.db.get(master)) {
        moveIpConfig(c.db, master, primary);
        for (const v of [...(c.db.record(master).VLAN_slave_of as string[])]) c.db.set(v, 'tagged_PIF', primary);
      }
      for (const s of slaves) c.db.update(s, { bond_slave_of: NULL_REF, currently_attached: true });
      c.db.destroy(bond.ref);
      if (c.db.get(master)) c.db.destroy(master);
    },
    'Bond.set_mode': (c) => c.db.set(c.db.expect('Bond', c.args[0]).ref, 'mode', c.args[1]),
    'Bond.set_property': (c) => {
      const bond = c.db.expect('Bond', c.args[0]);
      c.db.mutate(bond.ref, 'properties', (p: Record<string, string>) => {
        p[String(c.args[1])] = String(c.args[2]);
      });
    },

    'VIF.create': (c) => {
      const fields = constructorFields(c.db, c.db.classOf('VIF'), c.args[0] as Record<string, unknown>);
      const mac = String(fields.MAC ?? '');
      assertValidVifDevice(String(fields.device));
      if (mac !== '' && !MAC_RE.test(mac)) throw fail('MAC_INVALID', mac);
      checkVifDeviceFree(c.db, fields.VM as string, String(fields.device));
      const vif = createVif(c.db, {
        vm: fields.VM as string,
        network: fields.network as string,
        device: String(fields.device),
        ...(mac ? { MAC: mac } : {}),
        other_config: (fields.other_config as Record<string, string>) ?? {},
      });
      const { VM: _vm, network: _n, device: _d, MAC: _m, other_config: _o, ...rest } = fields;
      c.db.update(vif, { ...rest, currently_attached: false });
      refreshDeviceOperations(c.db, fields.VM as string);
      return vif;
    },
    'VIF.destroy': (c) => {
      const vif = c.db.expect('VIF', c.args[0]);
      if (vif.rec.currently_attached) throw fail('DEVICE_ALREADY_ATTACHED', vif.ref);
      const m = vif.rec.metrics as string;
      c.db.destroy(vif.ref);
      if (c.db.get(m)) c.db.destroy(m);
    },
    'VIF.plug': (c) => {
      const vif = c.db.expect('VIF', c.args[0]);
      assertVifOperation(c.db, vif.ref, 'plug');
      c.db.set(vif.ref, 'currently_attached', true);
      refreshDeviceOperations(c.db, vif.rec.VM as string);
      c.core.guests.vifsChanged(vif.rec.VM as string);
    },
    'VIF.unplug': (c) => unplugVif(c),
    'VIF.unplug_force': (c) => unplugVif(c),
    'VIF.move': (c) => {
      const vif = c.db.expect('VIF', c.args[0]);
      const network = c.db.expect('network', c.args[1]).ref;
      c.db.set(vif.ref, 'network', network);
    },
  };
}

function unplugVif(c: Call): void {
  const vif = c.db.expect('VIF', c.args[0]);
  assertVifOperation(c.db, vif.ref, 'unplug');
  c.db.set(vif.ref, 'currently_attached', false);
  refreshDeviceOperations(c.db, vif.rec.VM as string);
  c.core.guests.vifsChanged(vif.rec.VM as string);
}

function createBond(c: Call): string {
  const db = c.db;
  const [network, rawMembers, mac, mode, properties] = c.args as [string, string[], string, string, Record<string, string>];
  db.expect('network', network);
  const members = [...new Set(rawMembers)];
  if (members.length < 2) throw fail('PIF_BOND_NEEDS_MORE_MEMBERS');
  const recs = members.map((m) => db.expect('PIF', m).rec);
  const host = recs[0]!.host as string;
  if (recs.some((r) => r.host !== host)) throw fail('PIF_CANNOT_BOND_CROSS_HOST');
  members.forEach((m, i) => {
    const r = recs[i]!;
    if (r.bond_slave_of && r.bond_slave_of !== NULL_REF) throw fail('PIF_ALREADY_BONDED', m);
    if ((r.VLAN as number) >= 0) throw fail('PIF_IS_VLAN', m);
    if (r.managed === false) throw fail('PIF_UNMANAGED', m);
  });
  if (new Set(recs.map((r) => r.primary_address_type)).size > 1) throw fail('PIF_BOND_MORE_THAN_ONE_IP');
  if (mac && !MAC_RE.test(mac)) throw fail('MAC_INVALID', mac);
  const existing = pifOnNetwork(db, host, network);
  if (existing) throw fail('NETWORK_ALREADY_CONNECTED', host, existing);
  // The primary member: the management PIF, else the first with an IP configuration, else the first.
  const primaryIdx = Math.max(
    0,
    recs.findIndex((r) => r.management),
  );
  const primary =
    recs[primaryIdx]?.management ? members[primaryIdx]! : (members.find((_, i) => recs[i]!.ip_configuration_mode !== 'None') ?? members[0]!);
  const bondsOnHost = (db.record(host).PIFs as string[]).filter((p) => String(db.get(p)?.rec.device).startsWith('bond')).length;
  const defaults: Record<string, string> = mode === 'lacp' ? { hashing_algorithm: 'tcpudp_ports', 'lacp-time': 'slow', 'lacp-fallback-ab': 'true' } : { hashing_algorithm: 'src_mac' };
  const master = db.create('PIF', {
    device: `bond${bondsOnHost}`,
    network,
    host,
    MAC: mac || (db.record(primary).MAC as string),
    MTU: db.record(primary).MTU,
    VLAN: -1,
    metrics: NULL_REF,
    physical: false,
    currently_attached: true,
    managed: true,
    ip_configuration_mode: 'None',
    primary_address_type: db.record(primary).primary_address_type,
    bond_slave_of: NULL_REF,
    VLAN_master_of: NULL_REF,
    other_config: {},
  });
  const bond = db.create('Bond', {
    master,
    other_config: {},
    primary_slave: primary,
    mode: mode || 'balance-slb',
    properties: { ...defaults, ...properties },
    links_up: members.length,
    auto_update_mac: !mac,
  });
  for (const m of members) db.update(m, { bond_slave_of: bond });
  moveIpConfig(db, primary, master);
  for (const m of members) for (const v of [...(db.record(m).VLAN_slave_of as string[])]) db.set(v, 'tagged_PIF', master);
  db.set(master, 'other_config', { created: xapiDate() });
  return bond;
}
