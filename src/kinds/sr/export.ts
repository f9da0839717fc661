import { hostOwnedSR } from './protection.js';
import { SECRET_KEY } from './schema.js';
import { credentialKeyFor } from './secret-keys.js';
import type { SRRecord } from '../../model/observed.js';
import type { Candidate, ExportContext } from '../../export/context.js';
import { alreadyManaged, countSkipped, describe, referenceTo } from '../../export/context.js';
import { setIfPresent } from '../../export/values.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { manifestDoc, nameLabelSpec } from '../../export/manifest-doc.js';


/** SR types an SR manifest can declare (`./schema.ts`). */
const SR_TYPES = ['nfs', 'lvmoiscsi', 'lvm', 'ext', 'smb', 'iso'];
const LOCAL_TYPES = ['lvm', 'ext'];
/** device_config keys XAPI adds to a PBD on its own. */
const SYSTEM_DEVICE_KEYS = new Set(['SRmaster']);

function isToolsSR(sr: SRRecord): boolean {
  return sr['is_tools_sr'] === true || sr.other_config?.['xenserver_tools_sr'] === 'true';
}

/** `XOPS_SECRET_<SR>_<KEY>`: the environment variable an exported secretRef names. */
export function secretEnvName(srName: string, key: string): string {
  return `XOPS_SECRET_${srName}_${key}`.toUpperCase().replace(/[^A-Z0-9_]+/g, '_');
}

/** The hosts the SR's PBDs are on, in PBD order (the planner compares the first PBD's device_config). */
function pbdsOf(ctx: ExportContext, sr: SRRecord) {
  return (sr.PBDs ?? []).flatMap((ref) => {
    const pbd = ctx.index.get('PBD', ref);
    return pbd ? [pbd] : [];
  });
}

/**
 * SRs of the types an SR manifest knows (nfs, smb, lvmoiscsi, iso, lvm, ext). The tools ISO SR is
 * XAPI's own; other types (udev removable media, hba, zfs...) are left out with a note, and manifests
 * refer to them by name.
 */
export const srExporter: KindExporter<'SR'> = {
  kind: 'SR',
  cls: 'SR',
  folder: 'storage',
  select(ctx) {
    const out: Candidate<'SR'>[] = [];
    for (const [ref, record] of ctx.observed.records.SR) {
      if (isToolsSR(record)) {
        countSkipped(ctx, 'tools SR');
        continue;
      }
      if (alreadyManaged(ctx, 'SR', record)) continue;
      // The hosts' own SRs (local storage, ISO libraries xops did not make) are never managed: see protection.ts.
      const hosts = hostOwnedSR(record);
      if (hosts) {
        countSkipped(ctx, hosts.what);
        continue;
      }
      if (!SR_TYPES.includes(record.type)) {
        ctx.notes.push({ severity: 'info', code: 'unsupported-sr', message: `${describe('SR', record)} is of type '${record.type}', which an SR manifest cannot declare: not exported (manifests refer to it by name)` });
        continue;
      }
      const pbds = pbdsOf(ctx, record);
      if (pbds.length === 0) {
        ctx.notes.push({ severity: 'info', code: 'detached-sr', message: `${describe('SR', record)} has no PBD, so its device configuration is unknown: not exported` });
        continue;
      }
      if (LOCAL_TYPES.includes(record.type) && (record.shared || pbds.length !== 1)) {
        ctx.notes.push({ severity: 'info', code: 'unsupported-sr', message: `${describe('SR', record)} is a ${record.type} SR on ${pbds.length} hosts; an SR manifest declares ${record.type} SRs on one host: not exported` });
        continue;
      }
      out.push({ cls: 'SR', ref, record });
    }
    return out;
  },
  build(ctx, chosen) {
    const rec = chosen.record;
    const spec: Record<string, unknown> = { ...nameLabelSpec(chosen) };
    setIfPresent(spec, 'description', rec.name_description);
    spec.type = rec.type;
    const pbds = pbdsOf(ctx, rec);
    // Defaults as the SR kind derives them: local types are never shared, others are shared without a host.
    if (!rec.shared) {
      if (!LOCAL_TYPES.includes(rec.type)) spec.shared = false;
      const host = pbds.length === 1 ? referenceTo(ctx, 'host', pbds[0]!.host) : undefined;
      if (host) spec.host = host;
    }
    const defaultContent = rec.type === 'iso' ? 'iso' : 'user';
    if (rec.content_type !== defaultContent) spec.contentType = rec.content_type;
    const doc = manifestDoc(chosen, spec);
    const deviceConfig: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(pbds[0]?.device_config ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      if (SYSTEM_DEVICE_KEYS.has(key)) continue;
      if (SECRET_KEY.test(key)) {
        // `password_secret: <uuid>` names a XAPI secret holding `password`: the manifest declares the credential itself.
        const declared = credentialKeyFor(rec.type, key) ?? key;
        const env = secretEnvName(chosen.name, declared);
        deviceConfig[declared] = { secretRef: { env } };
        ctx.notes.push({
          severity: 'warning', code: 'secret', file: chosen.file, address: `SR/${chosen.name}`, path: `spec.deviceConfig.${declared}`,
          message: `a credential is never written to Git: set ${env} where xops runs, or point the secretRef at a file`,
        });
        continue;
      }
      deviceConfig[key] = value;
    }
    setIfPresent(spec, 'deviceConfig', deviceConfig);
    setIfPresent(spec, 'tags', [...(rec.tags ?? [])].sort());
    return doc;
  },
};
