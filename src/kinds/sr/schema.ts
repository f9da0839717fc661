import type { ConfigValue, DesiredSR, SRType } from '../../model/desired.js';
import { closedObject, documentSchema, ref, type JsonSchema } from '../../manifests/schema-kit.js';
import type { BuildContext, KindDefinition } from '../../manifests/build-context.js';
import { childPath } from '../../manifests/paths.js';

interface SRSpec {
  nameLabel?: string;
  description?: string;
  type: SRType;
  shared?: boolean;
  contentType?: string;
  deviceConfig?: Record<string, ConfigValue>;
  host?: string;
  tags?: string[];
}

const SR_TYPES: SRType[] = ['nfs', 'lvmoiscsi', 'lvm', 'ext', 'smb', 'iso'];
/** Types whose storage lives on one host's disks: they cannot be shared and need `host`. */
const LOCAL_TYPES: SRType[] = ['lvm', 'ext'];
/** deviceConfig keys each type cannot work without. */
const REQUIRED_DEVICE_CONFIG: Record<SRType, string[]> = {
  nfs: ['server', 'serverpath'],
  smb: ['server'],
  lvmoiscsi: ['target', 'targetIQN', 'SCSIid'],
  lvm: ['device'],
  ext: ['device'],
  iso: ['location'],
};
/** deviceConfig keys that hold credentials (password, chappassword, cifspassword, ...): secretRef only. */
export const SECRET_KEY = /pass(word|wd)?$|secret|token/i;

function typeRules(): JsonSchema[] {
  return SR_TYPES.map((type) => ({
    if: { properties: { type: { const: type } }, required: ['type'] },
    then: {
      required: ['deviceConfig', ...(LOCAL_TYPES.includes(type) ? ['host'] : [])],
      properties: { deviceConfig: { required: REQUIRED_DEVICE_CONFIG[type] } },
    },
  }));
}

/** A storage repository and its PBDs (one per host when shared, else one on `host`). */
export const srSchema: KindDefinition<DesiredSR> = {
  kind: 'SR',
  schemaFile: 'sr.schema.json',
  schema: documentSchema(
    'SR',
    'a storage repository',
    'A storage repository. Shared SRs get a PBD on every host; local ones (lvm, ext) on `host` only. Credentials in deviceConfig must be secretRefs.',
    closedObject(
      {
        nameLabel: { type: 'string', minLength: 1, description: 'name_label (default: metadata.name).' },
        description: { type: 'string', description: 'name_description.' },
        type: { enum: SR_TYPES, description: 'SR driver type.' },
        shared: { type: 'boolean', description: 'Attached on every host (default: true for nfs, smb, lvmoiscsi and iso without host; false for lvm and ext).' },
        contentType: { type: 'string', description: 'content_type (default: `iso` for iso SRs, else `user`).' },
        deviceConfig: {
          type: 'object',
          description: `Driver settings (PBD device_config). Required keys: ${SR_TYPES.map((t) => `${t}: ${REQUIRED_DEVICE_CONFIG[t].join(', ')}`).join('; ')}. Credentials (password, chappassword, cifspassword...) must be {secretRef: {env|file}}.`,
          additionalProperties: {
            anyOf: [{ type: 'string' }, { $ref: '#/definitions/secretRef' }],
            errorMessage: 'must be a string or {secretRef: {env: NAME}} / {secretRef: {file: PATH}}',
          },
        },
        host: ref('reference', 'For local SRs: the host whose disk holds it (a Host manifest name, or a host\'s name_label or uuid).'),
        tags: ref('tags'),
      },
      ['type'],
      { allOf: typeRules() },
    ),
  ),
  inspect(raw, ctx) {
    const deviceConfig = (raw as { deviceConfig?: unknown } | null)?.deviceConfig;
    if (deviceConfig === null || typeof deviceConfig !== 'object') return;
    for (const [key, value] of Object.entries(deviceConfig)) {
      if (SECRET_KEY.test(key) && typeof value !== 'object') {
        ctx.error(
          childPath('spec.deviceConfig', key),
          `'${key}' is a credential: write it as {secretRef: {env: NAME}} or {secretRef: {file: PATH}}, never inline in Git`,
          'inline-secret',
        );
      }
    }
  },
  build(raw, meta, ctx) {
    const spec = raw as unknown as SRSpec;
    const local = LOCAL_TYPES.includes(spec.type);
    if (local && spec.shared === true) ctx.error('spec.shared', `${spec.type} SRs live on one host's disk and cannot be shared`);
    const shared = spec.shared ?? (local ? false : spec.host === undefined);
    if (shared && spec.host !== undefined) ctx.error('spec.host', 'host is only for local SRs (shared: false)');
    checkSecretFiles(spec.deviceConfig ?? {}, ctx);
    return {
      kind: 'SR',
      meta,
      spec: {
        nameLabel: spec.nameLabel ?? meta.name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        type: spec.type,
        shared,
        contentType: spec.contentType ?? (spec.type === 'iso' ? 'iso' : 'user'),
        deviceConfig: spec.deviceConfig ?? {},
        ...(spec.host !== undefined ? { host: ctx.ref('Host', spec.host, 'spec.host') } : {}),
        tags: spec.tags ?? [],
      },
    };
  },
};

/**
 * A relative secret file is read inside the operator's secrets folder (secrets.dir), so `..` can only
 * mean an escape from it: refused while loading, before the operator's rules are even consulted.
 */
function checkSecretFiles(deviceConfig: Record<string, ConfigValue>, ctx: BuildContext): void {
  for (const [key, value] of Object.entries(deviceConfig)) {
    if (typeof value === 'string') continue;
    const file = value.secretRef.file;
    if (file === undefined || file.startsWith('/')) continue;
    if (file.split(/[\\/]/).includes('..')) {
      ctx.error(`${childPath('spec.deviceConfig', key)}.secretRef.file`, `secret file '${file}' leaves the secrets folder; relative secret files are read inside the operator's secrets.dir`, 'path-escape');
    }
  }
}
