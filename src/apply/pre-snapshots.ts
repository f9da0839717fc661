import type { Ref, VMRecord } from '../model/observed.js';
import { SNAPSHOT_PREFIX } from '../policy/snapshot.js';
import type { XapiCaller } from '../xapi/caller.js';
import { isXapiError } from './xapi.js';

/**
 * Keeps only the `keep` newest pre-change snapshots (`xops-pre-*`) of `vm`: older ones are destroyed with
 * their disks (a snapshot's disks are its own copies, used by nothing else). Snapshots under other names,
 * scheduled ones included, are never touched. Returns the uuids destroyed.
 */
export async function prunePreChangeSnapshots(caller: XapiCaller, vm: Ref, keep: number): Promise<string[]> {
  const snaps: { ref: Ref; rec: VMRecord }[] = [];
  for (const ref of await caller.call<Ref[]>('VM.get_snapshots', vm)) {
    const rec = await caller.call<VMRecord>('VM.get_record', ref).catch((err: unknown) => {
      if (isXapiError(err, 'HANDLE_INVALID')) return undefined;
      throw err;
    });
    if (rec?.name_label.startsWith(SNAPSHOT_PREFIX)) snaps.push({ ref, rec });
  }
  snaps.sort((a, b) => String(a.rec['snapshot_time']).localeCompare(String(b.rec['snapshot_time'])) || a.rec.name_label.localeCompare(b.rec.name_label));
  const destroyed: string[] = [];
  for (const { ref, rec } of snaps.slice(0, Math.max(0, snaps.length - keep))) {
    const vdis: Ref[] = [];
    for (const vbd of rec.VBDs) {
      const b = await caller.call<{ VDI: Ref; type: string }>('VBD.get_record', vbd);
      if (b.type === 'Disk' && b.VDI !== 'OpaqueRef:NULL') vdis.push(b.VDI);
    }
    await caller.callAsync('VM.destroy', ref);
    for (const vdi of vdis) {
      await caller.callAsync('VDI.destroy', vdi).catch((err: unknown) => {
        if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
      });
    }
    destroyed.push(rec.uuid);
  }
  return destroyed;
}
