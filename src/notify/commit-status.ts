import type { DeliveryRequest } from './delivery.js';

/** The Git hosts whose commit-status APIs xops speaks. */
export const COMMIT_STATUS_PROVIDERS = ['github', 'gitlab'] as const;
export type CommitStatusProvider = (typeof COMMIT_STATUS_PROVIDERS)[number];

/** What xops says about a commit: `pending` when seen, `success` when applied and converged, `failure` when rejected or apply failed. */
export type CommitState = 'pending' | 'success' | 'failure';

/** Where commit statuses go. `token` is a credential: never logged, never shown. */
export interface CommitStatusTarget {
  provider: CommitStatusProvider;
  /** API base: default `https://api.github.com` or `https://gitlab.com/api/v4` (self-hosted: `https://HOST/api/v3`, `https://HOST/api/v4`). */
  baseUrl?: string;
  /** GitHub `owner/name`; GitLab the project's numeric id or its full path (`group/sub/project`). */
  project: string;
  token: string;
  /** The status's name on the commit; default `xops`. Statuses with the same context replace each other. */
  context?: string;
  /** A link shown next to the status (e.g. the controller's /status). */
  targetUrl?: string;
}

export const DEFAULT_API_URL: Record<CommitStatusProvider, string> = { github: 'https://api.github.com', gitlab: 'https://gitlab.com/api/v4' };
/** GitHub refuses longer descriptions ("description is too long (maximum is 140 characters)"). */
const MAX_DESCRIPTION = 140;

/**
 * The request that sets `state` on commit `sha`. Pure. Following the hosts' documented APIs:
 * - GitHub: `POST {base}/repos/{owner}/{repo}/statuses/{sha}`, `Authorization: Bearer`, JSON
 *   `{state: pending|success|failure|error, description, context, target_url}`;
 * - GitLab: `POST {base}/projects/{id}/statuses/{sha}`, `PRIVATE-TOKEN`, JSON
 *   `{state: pending|running|success|failed|canceled, description, name, target_url}` with the
 *   project path URL-encoded as the id.
 */
export function commitStatusRequest(target: CommitStatusTarget, sha: string, state: CommitState, description: string): DeliveryRequest {
  const base = (target.baseUrl ?? DEFAULT_API_URL[target.provider]).replace(/\/+$/, '');
  const context = target.context ?? 'xops';
  const text = description.length > MAX_DESCRIPTION ? `${description.slice(0, MAX_DESCRIPTION - 1)}…` : description;
  const link = target.targetUrl ? { target_url: target.targetUrl } : {};
  if (target.provider === 'github') {
    const [owner, repo] = target.project.split('/');
    return {
      url: `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${sha}`,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${target.token}`,
        'x-github-api-version': '2022-11-28',
        'content-type': 'application/json',
        'user-agent': 'xops',
      },
      body: JSON.stringify({ state, description: text, context, ...link }),
    };
  }
  return {
    url: `${base}/projects/${encodeURIComponent(target.project)}/statuses/${sha}`,
    headers: { 'private-token': target.token, 'content-type': 'application/json', 'user-agent': 'xops' },
    body: JSON.stringify({ state: state === 'failure' ? 'failed' : state, description: text, name: context, ...link }),
  };
}

/**
 * The project a repository URL names on its host: `owner/name` from `https://github.com/owner/name.git`
 * or `git@github.com:owner/name.git`, `group/sub/project` on GitLab. Undefined for a local path.
 * For GitHub the path must have exactly two segments.
 */
export function projectOfRepoUrl(provider: CommitStatusProvider, url: string): string | undefined {
  let path: string | undefined;
  const scp = /^[\w.-]+@[\w.-]+:(?!\/\/)(.+)$/.exec(url);
  if (scp) path = scp[1];
  else {
    try {
      const u = new URL(url);
      if (u.protocol === 'file:') return undefined;
      path = decodeURIComponent(u.pathname);
    } catch {
      return undefined;
    }
  }
  const segments = path.replace(/\.git\/?$/, '').split('/').filter(Boolean);
  if (provider === 'github') return segments.length === 2 ? segments.join('/') : undefined;
  return segments.length >= 2 ? segments.join('/') : undefined;
}

/** A Git commit id: the only revisions a Git host has statuses for (not `local:` folder digests). */
export function isCommitSha(commit: string): boolean {
  return /^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(commit);
}

/**
 * Remembers the last state sent per commit so the loop's repeated reconciles of one commit (resyncs,
 * retries) post a status only when it changes. Bounded: forgets the oldest commits beyond 200.
 */
export class CommitStatusMemory {
  private readonly sent = new Map<string, string>();

  /** Whether any status was sent for `sha`. */
  known(sha: string): boolean {
    return this.sent.has(sha);
  }

  /** True when `state`+`description` differs from what was last sent for `sha` (and records it). */
  changed(sha: string, state: CommitState, description: string): boolean {
    const key = `${state}\n${description}`;
    if (this.sent.get(sha) === key) return false;
    this.sent.delete(sha);
    this.sent.set(sha, key);
    while (this.sent.size > 200) this.sent.delete(this.sent.keys().next().value as string);
    return true;
  }
}
