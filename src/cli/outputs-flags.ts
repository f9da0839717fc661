import { defaultCacheRoot } from './cache-dir.js';
import { createHash } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import type { OperatorOutputsOptions } from '../controller/outputs.js';
import { COMMIT_STATUS_PROVIDERS, projectOfRepoUrl, type CommitStatusProvider } from '../notify/commit-status.js';
import { NOTIFY_FORMATS, type NotifyFormat } from '../notify/formats.js';
import { GitSource } from '../source/git-source.js';
import { LocalSource } from '../source/local-source.js';
import type { ManifestSource } from '../source/types.js';
import { readFlagFile, str } from './args.js';
import { UserError } from './errors.js';

/** The `xops run` flags of the operator's outputs (notifications, commit statuses). */
export const outputsOptions = {
  'notify-url': { type: 'string' },
  'notify-format': { type: 'string' },
  'notify-secret-file': { type: 'string' },
  'commit-status': { type: 'string' },
  'commit-status-token-file': { type: 'string' },
  'commit-status-url': { type: 'string' },
  'commit-status-project': { type: 'string' },
} as const;

export const OUTPUTS_USAGE = `notifications (see docs/monitoring.md):
  --notify-url URL             POST a JSON notification on failures, rejected commits, drift,
                               held actions and a lost lease
  --notify-format F            generic (default), slack or teams
  --notify-secret-file FILE    sign each body with HMAC-SHA256 (header X-Xops-Signature-256)
  --commit-status P            github or gitlab: set a status on each commit (pending, success,
                               failure) so its pull request shows whether it was applied
  --commit-status-token-file FILE
                               the API token (GitHub: repo:status; GitLab: api scope)
  --commit-status-url URL      API base (default https://api.github.com, https://gitlab.com/api/v4)
  --commit-status-project P    owner/name (GitLab: id or group/project); default: from --repo`;

/**
 * The controller's outputs from the flags: where the history is kept (next to the Git cache, or
 * under .xops-cache for a plain folder), the notification webhook and the commit-status target.
 * Secrets are read from files here and never echoed back in an error.
 */
export async function outputsFromArgs(values: Record<string, unknown>, source: ManifestSource, repo: string, pool: string): Promise<Omit<OperatorOutputsOptions, 'metrics' | 'logger'>> {
  const out: Omit<OperatorOutputsOptions, 'metrics' | 'logger'> = { historyFile: historyFileFor(source, pool) };
  const notifyUrl = str(values['notify-url']);
  const format = str(values['notify-format']) ?? 'generic';
  if (!(NOTIFY_FORMATS as readonly string[]).includes(format)) throw new UserError(`--notify-format must be one of ${NOTIFY_FORMATS.join(', ')}, not '${format}'`);
  const secretFile = str(values['notify-secret-file']);
  if (notifyUrl) {
    out.notify = { url: httpUrl('--notify-url', notifyUrl), format: format as NotifyFormat };
    if (secretFile) out.notify.secret = await nonEmptyFile('--notify-secret-file', secretFile);
  } else if (secretFile || values['notify-format'] !== undefined) {
    throw new UserError('--notify-format and --notify-secret-file need --notify-url');
  }

  const provider = str(values['commit-status']);
  if (provider === undefined) {
    for (const f of ['commit-status-token-file', 'commit-status-url', 'commit-status-project']) if (values[f] !== undefined) throw new UserError(`--${f} needs --commit-status github|gitlab`);
    return out;
  }
  if (!(COMMIT_STATUS_PROVIDERS as readonly string[]).includes(provider)) throw new UserError(`--commit-status must be one of ${COMMIT_STATUS_PROVIDERS.join(', ')}, not '${provider}'`);
  const tokenFile = str(values['commit-status-token-file']);
  if (!tokenFile) throw new UserError('--commit-status needs --commit-status-token-file');
  const project = str(values['commit-status-project']) ?? projectOfRepoUrl(provider as CommitStatusProvider, repo);
  if (!project) throw new UserError(`--commit-status: cannot tell the ${provider} project from --repo ${repo}; give --commit-status-project`);
  if (provider === 'github' && !/^[^/\s]+\/[^/\s]+$/.test(project)) throw new UserError(`--commit-status-project must be owner/name for github, not '${project}'`);
  const baseUrl = str(values['commit-status-url']);
  out.commitStatus = {
    provider: provider as CommitStatusProvider,
    project,
    token: await nonEmptyFile('--commit-status-token-file', tokenFile),
    ...(baseUrl ? { baseUrl: httpUrl('--commit-status-url', baseUrl) } : {}),
  };
  return out;
}

/**
 * Where the reconcile history of one pool (`pool`: its XAPI URL) persists: beside the source's Git
 * cache, so one cache folder holds both, one file per source and pool.
 */
export function historyFileFor(source: ManifestSource, pool: string): string | undefined {
  const poolDigest = digest(pool).slice(0, 8);
  if (source instanceof GitSource) return join(dirname(source.cacheDir), `${basename(source.cacheDir)}.${poolDigest}.history.json`);
  if (source instanceof LocalSource) return join(defaultCacheRoot(), `${digest(resolve(source.dir)).slice(0, 16)}.${poolDigest}.history.json`);
  return undefined;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function httpUrl(flag: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UserError(`${flag} must be an http(s) URL`);
  }
  // The URL itself may be a credential (Slack and Teams put the secret in the path): never echo it.
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UserError(`${flag} must be an http(s) URL, not ${u.protocol}`);
  return value;
}

async function nonEmptyFile(flag: string, file: string): Promise<string> {
  const text = await readFlagFile(flag, file);
  if (!text.trim()) throw new UserError(`${flag}: ${file} is empty`);
  return text.trim();
}
