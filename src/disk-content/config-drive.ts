/**
 * The files of a NoCloud config drive (cloud-init's "NoCloud" data source): `user-data`, `meta-data` and, when
 * given, `network-config`, on a filesystem labelled `cidata`. Pure: no I/O; see build-config-drive.ts for the image.
 */
import { dump } from 'js-yaml';

/** A VM's cloudInit spec, as the manifests will carry it. */
export interface CloudInitSpec {
  /** The user-data document as cloud-init reads it (`#cloud-config` YAML, a `#!` script, a MIME multipart...). */
  userData: string;
  /** Network configuration (version 1 or 2): YAML text, or an object written out as YAML. */
  networkConfig?: string | Record<string, unknown>;
  /** Extra meta-data keys; `instance-id` and `local-hostname` are xops's own and may not be set here. */
  metaData?: Record<string, string | number | boolean>;
}

/** The NoCloud files, keyed by the name cloud-init looks for. */
export interface ConfigDriveFiles {
  'user-data': string;
  'meta-data': string;
  'network-config'?: string;
}

/** The volume label cloud-init's NoCloud source looks for. */
export const CONFIG_DRIVE_LABEL = 'cidata';
/** Bound on each file, so a drive stays small (and a mistaken manifest cannot make a huge one). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** A spec that cannot become a config drive; `field` is the path inside cloudInit. */
export class ConfigDriveError extends Error {
  override name = 'ConfigDriveError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`cloudInit.${field}: ${message}`);
    this.field = field;
  }
}

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const RESERVED_META = ['instance-id', 'local-hostname'];

/**
 * The three files for `spec`. `instanceId` should change when the VM is replaced (cloud-init runs its per-instance
 * modules once per instance id); `hostname` becomes `local-hostname`. Throws ConfigDriveError naming the field.
 */
export function configDriveFiles(spec: CloudInitSpec, hostname: string, instanceId: string): ConfigDriveFiles {
  if (typeof spec.userData !== 'string') throw new ConfigDriveError('userData', 'must be a string');
  if (!HOSTNAME.test(hostname)) throw new ConfigDriveError('metaData.local-hostname', `"${hostname}" is not a valid host name`);
  if (instanceId === '' || /[\r\n]/.test(instanceId)) throw new ConfigDriveError('metaData.instance-id', 'must be one non-empty line');
  const meta: Record<string, string | number | boolean> = { 'instance-id': instanceId, 'local-hostname': hostname };
  for (const [k, v] of Object.entries(spec.metaData ?? {})) {
    if (RESERVED_META.includes(k)) throw new ConfigDriveError(`metaData.${k}`, 'is set by xops (from the VM) and may not be given');
    if (!['string', 'number', 'boolean'].includes(typeof v)) throw new ConfigDriveError(`metaData.${k}`, 'must be a string, number or boolean');
    meta[k] = v;
  }
  const files: ConfigDriveFiles = { 'user-data': spec.userData, 'meta-data': dump(meta, { lineWidth: -1 }) };
  if (spec.networkConfig !== undefined) {
    const nc = spec.networkConfig;
    if (typeof nc === 'string') files['network-config'] = nc;
    else if (nc !== null && typeof nc === 'object' && !Array.isArray(nc)) files['network-config'] = dump(nc, { lineWidth: -1 });
    else throw new ConfigDriveError('networkConfig', 'must be YAML text or a mapping');
  }
  for (const [name, text] of Object.entries(files)) {
    const size = Buffer.byteLength(text as string);
    if (size > MAX_CONFIG_FILE_BYTES) {
      const field = name === 'user-data' ? 'userData' : name === 'network-config' ? 'networkConfig' : 'metaData';
      throw new ConfigDriveError(field, `${size} bytes exceeds the ${MAX_CONFIG_FILE_BYTES}-byte limit`);
    }
  }
  return files;
}
