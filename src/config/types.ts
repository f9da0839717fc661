import type { RepositoryLimits } from '../source/limits.js';
/**
 * The operator's configuration (`--config FILE`, env `XOPS_CONFIG`, `kind: ControllerConfig`): what
 * no commit can change. Read from the controller's host, never from the repository. Every field has
 * a safe default: nothing a commit asks for beyond the defaults happens unless the operator allows it.
 */
export interface ControllerConfig {
  /** The file it was read from; undefined for the built-in defaults. */
  file?: string;
  /** Ceilings for the repository's Policy documents, which may only tighten them. */
  limits: Limits;
  approvals: ApprovalSettings;
  secrets: SecretSettings;
  /** Pool objects never adopted, changed or deleted, besides the ones xops always protects. */
  protected: ProtectedSelector[];
  git: { verify?: GitVerify };
  http: HttpSettings;
  /** The pools of a fleet (`xops run --config` reconciles them all); empty: one pool from the flags. */
  pools: PoolConfig[];
  /**
   * What one commit may hold (files, bytes, YAML nodes...), over the built-in defaults
   * (source/limits.ts): a repository of 50,000 VMs needs more than they allow. Empty: the defaults.
   */
  repository: Partial<RepositoryLimits>;
}

/**
 * One pool of a fleet: how to reach it and which folders of the repository make up its manifests
 * (their union; the same Kind/name twice is an error). Paths in it are resolved against the file.
 */
export interface PoolConfig {
  /** The pool's name: its `Pool` manifest's metadata.name, `/status/<name>`, the `pool` metric label. */
  name: string;
  xapi: string;
  user: string;
  /** Exactly one of passwordFile / passwordEnv is set. */
  passwordFile?: string;
  passwordEnv?: string;
  /** A PEM file of CA certificates the pool's TLS certificate must chain to. */
  ca?: string;
  /** Folders of the repository (relative to its root, no `..`), at least one. */
  paths: string[];
  /** Stricter (or wider) ceilings for this pool; unset fields inherit the configuration's `limits`. */
  limits?: Partial<Limits>;
}

/** What a commit's policies may at most turn on. All off by default. */
export interface Limits {
  /** Take over unmanaged objects that have a manifest's name. */
  adopt: boolean;
  /** Delete managed objects no manifest declares any more. */
  prune: boolean;
  /** Run destructive actions (data or connectivity loss), once a policy's approval lets them through. */
  destructive: boolean;
}

export interface ApprovalSettings {
  /**
   * Whether an approval annotation added in the same commit as the change it approves counts.
   * Default false: an approval counts only for an action that was already held, awaiting approval,
   * at an earlier commit — so a reviewer saw it before someone approved it.
   */
  sameChange: boolean;
  /** A file holding the bearer token `xops approve` presents to the controller's API. */
  tokenFile?: string;
}

export interface SecretSettings {
  /** Every `secretRef.file` must resolve, after symlinks, inside this folder; unset: file refs are refused. */
  dir?: string;
  /** Every `secretRef.env` must start with this prefix; default `XOPS_SECRET_`. */
  envPrefix?: string;
  /**
   * The device-config keys that may hold a secretRef, per SR type (keys that hold credentials).
   * Replaces the built-in table for the types it names.
   */
  credentialKeys: Record<string, string[]>;
}

/** One operator-protected object, by uuid, name_label or tag; `class` narrows it to one XAPI class. */
export type ProtectedSelector = ({ uuid: string } | { name: string } | { tag: string }) & { class?: string };

/** Signed-commit verification through git's own `verify-commit`. */
export type GitVerify = { allowedSigners: string } | { gpgKeyring: string };

export interface HttpSettings {
  /** A file holding the bearer token `/status`, `/metrics`, `/history` and the plan API require. */
  tokenFile?: string;
  /** Where `POST /webhook` listens, apart from the read endpoints (`HOST:PORT`). */
  webhookListen?: string;
  /** Host names requests may carry besides IP literals and localhost names (DNS-rebinding defence). */
  allowedHosts?: string[];
}

/**
 * Device-config keys that hold credentials, per SR type: the only keys a secretRef may name, and
 * (for smb and lvmoiscsi) the ones XAPI also accepts as `<key>_secret` secret object references.
 * Key names as the SM drivers read them (xapi-project/sm: drivers/SMBSR.py, drivers/ISCSISR.py).
 */
export const DEFAULT_CREDENTIAL_KEYS: Readonly<Record<string, readonly string[]>> = {
  smb: ['password'],
  cifs: ['password'],
  lvmoiscsi: ['chappassword', 'incoming_chappassword'],
  iscsi: ['chappassword', 'incoming_chappassword'],
  gfs2: ['chappassword', 'incoming_chappassword'],
  // ISOSR reads a CIFS library's password as `cifspassword` (libs/sm/drivers/ISOSR.py, cifutils prefix "cifs").
  iso: ['password', 'cifspassword'],
};

/** The prefix a secretRef.env must have when the operator names none. */
export const DEFAULT_SECRET_ENV_PREFIX = 'XOPS_SECRET_';

/** The configuration with no file: every limit off, no secrets, only the built-in protections. */
export function defaultConfig(): ControllerConfig {
  return {
    limits: { adopt: false, prune: false, destructive: false },
    approvals: { sameChange: false },
    secrets: { envPrefix: DEFAULT_SECRET_ENV_PREFIX, credentialKeys: Object.fromEntries(Object.entries(DEFAULT_CREDENTIAL_KEYS).map(([k, v]) => [k, [...v]])) },
    protected: [],
    git: {},
    http: {},
    pools: [],
    repository: {},
  };
}
