/**
 * A VM's `cloudInit`: decoding the manifest's form, and the facts the planner and apply share about
 * the config drive (its mark, its name, the digest that tells whether the VM was built from the
 * config the manifest now declares). Pure: no I/O (`file:` parts come with the snapshot, see
 * manifests/companion-files.ts).
 */
import { createHash } from 'node:crypto';
import { dump } from 'js-yaml';
import type { BuildContext } from '../../manifests/build-context.js';
import { repositoryPathProblem } from '../../manifests/file-path.js';
import { isManifestPath } from '../../manifests/manifest-path.js';
// The pure half of disk-content: the planner imports this module, and must not pull in the image builder.
import { ConfigDriveError, MAX_CONFIG_FILE_BYTES, configDriveFiles, type ConfigDriveFiles } from '../../disk-content/config-drive.js';
import type { CloudInitFileRef, DesiredCloudInit } from './desired.js';

/**
 * other_config key of xops' cloud-init marks. On the config drive's VDI: `pending` until its image is
 * uploaded, then the config's digest. On the VM: the digest of the config it was created with (kept
 * after the drive is removed, so a later edit of the manifest is still noticed).
 */
export const CLOUDINIT_KEY = 'xops.cloudinit';
/** The drive's mark while its content is not (completely) uploaded yet. */
export const CLOUDINIT_PENDING = 'pending';

/** Longest `file:` path accepted: a file name in a repository, not data. */
const MAX_PATH = 1024;
const MAX_META_KEYS = 64;

/** The manifest's `cloudInit` as the schema lets it through. */
export interface CloudInitManifest {
  userData: string | { file: string };
  networkConfig?: string | { file: string } | Record<string, unknown>;
  metaData?: Record<string, string | number | boolean>;
  removeAfterFirstBoot?: boolean;
}

const fileRef = (description: string) => ({
  type: 'object',
  additionalProperties: false,
  required: ['file'],
  properties: { file: { type: 'string', minLength: 1, maxLength: MAX_PATH, description } },
});

/** The JSON schema of `spec.cloudInit`. */
export const cloudInitSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['userData'],
  description: 'A NoCloud config drive (a small VDI, ISO 9660 labelled cidata) written and attached when xops creates the VM; cloud-init reads it at first boot. A later change takes effect only when the VM is replaced.',
  properties: {
    userData: {
      description: 'user-data: the text itself (`#cloud-config` YAML, a script), or `{file: PATH}`, a file in the manifests folder.',
      if: { type: 'object' },
      then: fileRef('user-data file, relative to the manifests folder (inside it), at most 1 MiB.'),
      else: { type: 'string', minLength: 1 },
    },
    networkConfig: {
      description: 'network-config (version 1 or 2): YAML text, a mapping written here, or `{file: PATH}`.',
      if: { type: 'object', required: ['file'] },
      then: fileRef('network-config file, relative to the manifests folder (inside it), at most 1 MiB.'),
      else: { type: ['string', 'object'] },
    },
    metaData: {
      type: 'object',
      maxProperties: MAX_META_KEYS,
      additionalProperties: { type: ['string', 'number', 'boolean'] },
      description: 'Extra meta-data keys; instance-id (the VM uuid) and local-hostname (metadata.name) are set by xops.',
    },
    removeAfterFirstBoot: { type: 'boolean', default: false, description: 'Detach and destroy the drive once the guest agent has reported (the first boot is done).' },
  },
};

/**
 * A `{file: PATH}` part: its path checked, its text taken from the companion files of the same
 * snapshot (every source carries them), or the reason it is not there for the planner to report.
 */
function decodeFile(file: string, path: string, ctx: BuildContext): { ref: CloudInitFileRef; text: string } {
  const problem = repositoryPathProblem(file);
  if (problem) ctx.error(path, `'${file}' ${problem}`, 'path-escape');
  const clean = file.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  // Every *.yaml in the folder is loaded as a manifest: a user-data file named so would fail as one.
  if (!problem && isManifestPath(clean)) {
    ctx.error(path, `'${file}' would be read as a manifest (*.yaml, *.yml are manifests): name it otherwise (web.user-data, web.network-config)`, 'cloud-init-file');
  }
  if (problem) return { ref: { path: clean, read: false }, text: '' };
  const content = ctx.companion(clean);
  if (content === undefined) {
    return { ref: { path: clean, read: false, problem: `is not a file of the manifests folder (at most ${MAX_CONFIG_FILE_BYTES} bytes, not hidden, no symlink leading outside)` }, text: '' };
  }
  const text = content.toString('utf8');
  if (Buffer.byteLength(text) !== content.length) return { ref: { path: clean, read: false, problem: 'is not UTF-8 text' }, text: '' };
  return { ref: { path: clean, read: true }, text };
}

/**
 * The desired cloudInit of VM `hostname` (its metadata.name, the guest's local-hostname). Problems are
 * reported through `ctx` at their field; a `file:` part's text is its companion file's.
 */
export function decodeCloudInit(raw: CloudInitManifest, hostname: string, ctx: BuildContext): DesiredCloudInit {
  const files: NonNullable<DesiredCloudInit['files']> = {};
  let userData = '';
  if (typeof raw.userData === 'string') userData = raw.userData;
  else ({ ref: files.userData, text: userData } = decodeFile(raw.userData.file, 'spec.cloudInit.userData.file', ctx));
  let networkConfig: string | undefined;
  const nc = raw.networkConfig;
  if (typeof nc === 'string') networkConfig = nc;
  else if (nc !== undefined && typeof (nc as { file?: unknown }).file === 'string' && Object.keys(nc).length === 1) {
    ({ ref: files.networkConfig, text: networkConfig } = decodeFile((nc as { file: string }).file, 'spec.cloudInit.networkConfig.file', ctx));
  } else if (nc !== undefined) {
    networkConfig = dump(nc, { lineWidth: -1 });
  }
  const out: DesiredCloudInit = {
    userData,
    ...(networkConfig !== undefined ? { networkConfig } : {}),
    ...(raw.metaData !== undefined ? { metaData: { ...raw.metaData } } : {}),
    removeAfterFirstBoot: raw.removeAfterFirstBoot ?? false,
    ...(Object.keys(files).length > 0 ? { files } : {}),
  };
  try {
    // The same checks apply runs when it writes the drive: a bad host name or meta-data key fails here, at its line.
    configDriveFiles({ userData: out.userData, ...(out.networkConfig !== undefined ? { networkConfig: out.networkConfig } : {}), ...(out.metaData ? { metaData: out.metaData } : {}) }, hostname, 'check');
  } catch (err) {
    if (!(err instanceof ConfigDriveError)) throw err;
    const path = err.field === 'metaData.local-hostname' ? 'metadata.name' : `spec.cloudInit.${err.field.startsWith('metaData.') ? 'metaData' : err.field}`;
    ctx.error(path, err.field === 'metaData.local-hostname' ? `${err.message}: a VM with cloudInit needs a metadata.name that is a host name (letters, digits, dashes, dots)` : err.message, 'cloud-init');
  }
  return out;
}

/** The parts given as files that a load could not read, with the manifest path to report them at. */
export function unreadFiles(ci: DesiredCloudInit): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const field of ['userData', 'networkConfig'] as const) {
    const f = ci.files?.[field];
    if (!f || f.read) continue;
    out.push({
      path: `spec.cloudInit.${field}.file`,
      message: `'${f.path}' ${f.problem ?? 'was not read'}`,
    });
  }
  return out;
}

/** The NoCloud files for VM `hostname` whose instance (the VM's uuid) is `instanceId`. */
export function driveFiles(ci: DesiredCloudInit, hostname: string, instanceId: string): ConfigDriveFiles {
  return configDriveFiles({ userData: ci.userData, ...(ci.networkConfig !== undefined ? { networkConfig: ci.networkConfig } : {}), ...(ci.metaData ? { metaData: ci.metaData } : {}) }, hostname, instanceId);
}

/**
 * Digest of what the drive says apart from the instance id: the same for the planner (from the
 * manifest) and apply (which records it), so an edit of the manifest after the create is visible.
 */
export function cloudInitDigest(ci: DesiredCloudInit, hostname: string): string {
  const canonical = JSON.stringify([hostname, ci.userData, ci.networkConfig ?? null, Object.entries(ci.metaData ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))]);
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

/** The config drive VDI's name_label for VM `nameLabel`; never of the `<vm>-<disk>` form disks are matched by. */
export function driveLabel(nameLabel: string): string {
  return `cloud-init ${nameLabel}`;
}

/** True for a VDI xops made as a config drive (any VM's): never one of a VM's declared disks. */
export function isConfigDrive(otherConfig: Record<string, string> | undefined): boolean {
  return otherConfig?.[CLOUDINIT_KEY] !== undefined;
}

export { MAX_CONFIG_FILE_BYTES };
