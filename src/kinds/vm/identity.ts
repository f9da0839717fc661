/**
 * The one rule, shared by the planner (compare.ts) and apply (disks.ts, vifs.ts), for "which
 * observed disk is declared disk N" and "which observed VIF is `networks[i]`". It reads only the
 * identity keys (`xops.disk`, `xops.vif`), never `xops.managed`: a disk whose marks were written
 * only in part is therefore seen the same way by both, and neither adds a second disk beside it.
 * Pure: no context, no calls.
 */
import { DISK_KEY, VIF_KEY } from '../../model/observed.js';

/** How an observed disk was matched to a manifest disk. */
export type DiskMatch = 'mark' | 'label' | 'position';

/** What the rule reads of an attached disk: its VBD's userdevice and its VDI's name and other_config. */
export interface DiskFacts {
  userdevice: string;
  nameLabel: string;
  otherConfig: Record<string, string> | undefined;
}

/** One disk the rule matched to a name. */
export interface MatchedDisk<T> {
  disk: T;
  match: DiskMatch;
}

/**
 * Matches a VM's attached (non-CD, non-empty) disks to names, in this order of precedence:
 * 1. `other_config["xops.disk"]` names the disk (the first one in `disks` order wins a name);
 * 2. a disk without that key whose name_label is `<vm>-<name>` is `<name>`;
 * 3. declared disk i is the still unmatched disk without the key on userdevice i.
 * `declared` is the manifest's disks in order (empty: no positional matching). Disks left unmatched
 * are `unmatched` (a second disk carrying a name already taken among them).
 */
export function matchDisks<T>(
  vmName: string,
  disks: readonly T[],
  facts: (d: T) => DiskFacts,
  declared: readonly { name: string }[] = [],
): { byName: Map<string, MatchedDisk<T>>; unmatched: T[] } {
  const byName = new Map<string, MatchedDisk<T>>();
  const unkeyed: T[] = [];
  const unmatched: T[] = [];
  for (const d of disks) {
    const oc = facts(d).otherConfig;
    // A standalone Disk attached to the VM is never one of the VM's own disks (kinds/disk).
    if (oc?.['xops.standalone'] === 'true' || (oc?.['xops.managed'] ?? '').startsWith('Disk/')) continue;
    // Nor is the cloud-init config drive xops wrote for it (cloud-init.ts).
    if (oc?.['xops.cloudinit'] !== undefined) continue;
    const key = oc?.[DISK_KEY];
    if (!key) unkeyed.push(d);
    else if (byName.has(key)) unmatched.push(d);
    else byName.set(key, { disk: d, match: 'mark' });
  }
  const prefix = `${vmName}-`;
  const rest: T[] = [];
  for (const d of unkeyed) {
    const label = facts(d).nameLabel;
    const name = label.startsWith(prefix) ? label.slice(prefix.length) : '';
    if (name && !byName.has(name)) byName.set(name, { disk: d, match: 'label' });
    else rest.push(d);
  }
  declared.forEach(({ name }, i) => {
    if (byName.has(name)) return;
    const at = rest.findIndex((d) => facts(d).userdevice === String(i));
    if (at >= 0) byName.set(name, { disk: rest.splice(at, 1)[0]!, match: 'position' });
  });
  unmatched.push(...rest);
  return { byName, unmatched };
}

/** What the rule reads of a VIF. */
export interface VifFacts {
  device: string;
  otherConfig: Record<string, string> | undefined;
}

/**
 * Matches a VM's VIFs to `networks` indexes: `other_config["xops.vif"]` (a decimal index) names the
 * entry; a VIF without a valid key is the entry whose index equals its device, when no keyed VIF
 * holds it. A second VIF for an index already taken is `unmatched`.
 * Keyed VIFs are `marked`; the others were matched by device.
 */
export function matchVifs<T>(vifs: readonly T[], facts: (v: T) => VifFacts): { byIndex: Map<number, { vif: T; marked: boolean }>; unmatched: T[] } {
  const byIndex = new Map<number, { vif: T; marked: boolean }>();
  const unkeyed: T[] = [];
  const unmatched: T[] = [];
  for (const v of vifs) {
    const key = facts(v).otherConfig?.[VIF_KEY];
    if (key === undefined || !/^\d+$/.test(key)) unkeyed.push(v);
    else if (byIndex.has(Number(key))) unmatched.push(v);
    else byIndex.set(Number(key), { vif: v, marked: true });
  }
  for (const v of unkeyed) {
    const device = facts(v).device;
    if (/^\d+$/.test(device) && !byIndex.has(Number(device))) byIndex.set(Number(device), { vif: v, marked: false });
    else unmatched.push(v);
  }
  return { byIndex, unmatched };
}
