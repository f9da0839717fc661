/**
 * What a simulated guest's cloud-init makes of a NoCloud `network-config`: the static addresses per VIF
 * device. Version 1 (`config: [{type: physical, name, mac_address, subnets: [{type: static, address}]}]`)
 * and version 2 (netplan: `ethernets: {eth0: {match: {macaddress}, addresses: [a.b.c.d/n]}}`), either
 * at the top or under `network:`. An interface is tied to a VIF by MAC, else by an `eth<N>` / `enX<N>`
 * name (the names Linux gives Xen's PV NICs), else by its position. Bad YAML configures nothing, as a
 * guest that cannot read its config falls back to DHCP.
 */
import { load } from 'js-yaml';

/** A VIF as the guest sees it. */
export interface GuestNic {
  device: string;
  mac: string;
}

/** Static addresses configured for a VIF device (without their prefix length). */
export interface StaticAddresses {
  ipv4: string[];
  ipv6: string[];
}

const MAX_INTERFACES = 64;
const MAX_ADDRESSES = 16;

type Entry = { name: string; mac?: string; addresses: string[] };

const obj = (v: unknown): Record<string, unknown> | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v.slice(0, MAX_ADDRESSES) : []);

function v2Entries(root: Record<string, unknown>): Entry[] {
  return Object.entries(obj(root.ethernets) ?? {}).slice(0, MAX_INTERFACES).map(([name, raw]) => {
    const e = obj(raw) ?? {};
    const mac = obj(e.match)?.macaddress;
    return { name, ...(typeof mac === 'string' ? { mac } : {}), addresses: list(e.addresses).filter((a): a is string => typeof a === 'string') };
  });
}

function v1Entries(root: Record<string, unknown>): Entry[] {
  return list(root.config).slice(0, MAX_INTERFACES).flatMap((raw) => {
    const e = obj(raw);
    if (!e || e.type !== 'physical' || typeof e.name !== 'string') return [];
    const addresses = list(e.subnets).flatMap((s) => {
      const sub = obj(s);
      return sub && typeof sub.type === 'string' && sub.type.startsWith('static') && typeof sub.address === 'string' ? [sub.address] : [];
    });
    return [{ name: e.name, ...(typeof e.mac_address === 'string' ? { mac: e.mac_address } : {}), addresses }];
  });
}

/** The static addresses `text` configures, by VIF device; devices it leaves to DHCP are absent. */
export function staticAddresses(text: string, nics: readonly GuestNic[]): Map<string, StaticAddresses> {
  let doc: unknown;
  try {
    doc = load(text);
  } catch {
    return new Map();
  }
  let root = obj(doc);
  if (root && obj(root.network)) root = obj(root.network);
  if (!root) return new Map();
  const entries = root.version === 2 ? v2Entries(root) : root.version === 1 ? v1Entries(root) : [];
  const out = new Map<string, StaticAddresses>();
  entries.forEach((e, i) => {
    const byMac = e.mac ? nics.find((n) => n.mac.toLowerCase() === e.mac!.toLowerCase()) : undefined;
    const numbered = /^(?:eth|enX)(\d+)$/.exec(e.name)?.[1];
    const nic = byMac ?? (numbered !== undefined ? nics.find((n) => n.device === numbered) : nics[i]);
    if (!nic || e.addresses.length === 0) return;
    const got = out.get(nic.device) ?? { ipv4: [], ipv6: [] };
    for (const a of e.addresses) {
      const ip = a.split('/')[0]!;
      if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) got.ipv4.push(ip);
      else if (ip.includes(':')) got.ipv6.push(ip);
    }
    out.set(nic.device, got);
  });
  return out;
}
