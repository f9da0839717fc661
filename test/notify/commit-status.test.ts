import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/controller/logger.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { OperatorOutputs } from '../../src/controller/outputs.js';
import type { ReconcileSummary } from '../../src/controller/status.js';
import { commitStatusRequest, projectOfRepoUrl, type CommitStatusProvider } from '../../src/notify/commit-status.js';
import { DeliveryQueue } from '../../src/notify/delivery.js';
import { Receiver, type Received } from './receiver.js';

const TOKEN = 'ghp_not-a-real-token';
const SHA = 'c0ffee'.padEnd(40, '0');

/**
 * What the real APIs accept, checked on every request the fakes receive (a request that breaks a
 * rule is answered 422, as the hosts do, and fails the test through `problems`):
 * - GitHub "Create a commit status": POST /repos/{owner}/{repo}/statuses/{sha}, JSON body with
 *   `state` in error|failure|pending|success, optional `target_url`, `description`, `context`;
 *   token as `Authorization: Bearer`, `Accept: application/vnd.github+json`, `X-GitHub-Api-Version`.
 *   (docs.github.com/en/rest/commits/statuses#create-a-commit-status)
 * - GitLab "Set the pipeline status of a commit": POST /projects/:id/statuses/:sha (id numeric or
 *   URL-encoded path), `state` in pending|running|success|failed|canceled, optional `name`,
 *   `description`, `target_url`; token as `PRIVATE-TOKEN`. (docs.gitlab.com/ee/api/commits.html)
 */
function githubProblems(r: Received): string[] {
  const p: string[] = [];
  const m = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(r.path);
  if (r.method !== 'POST' || !m) p.push(`bad request line ${r.method} ${r.path}`);
  if (r.headers.authorization !== `Bearer ${TOKEN}`) p.push('no bearer token');
  if (r.headers.accept !== 'application/vnd.github+json') p.push('accept');
  if (!r.headers['x-github-api-version']) p.push('api version');
  if (!String(r.headers['content-type']).startsWith('application/json')) p.push('content-type');
  const body = r.json() as Record<string, unknown>;
  if (!['error', 'failure', 'pending', 'success'].includes(body.state as string)) p.push(`state ${String(body.state)}`);
  for (const k of Object.keys(body)) if (!['state', 'target_url', 'description', 'context'].includes(k)) p.push(`unknown field ${k}`);
  if (typeof body.description === 'string' && body.description.length > 140) p.push('description too long');
  return p;
}

function gitlabProblems(r: Received): string[] {
  const p: string[] = [];
  const m = /^\/api\/v4\/projects\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(r.path);
  if (r.method !== 'POST' || !m) p.push(`bad request line ${r.method} ${r.path}`);
  if (r.headers['private-token'] !== TOKEN) p.push('no private token');
  const body = r.json() as Record<string, unknown>;
  if (!['pending', 'running', 'success', 'failed', 'canceled'].includes(body.state as string)) p.push(`state ${String(body.state)}`);
  for (const k of Object.keys(body)) if (!['state', 'ref', 'name', 'context', 'target_url', 'description', 'coverage', 'pipeline_id'].includes(k)) p.push(`unknown field ${k}`);
  return p;
}

let fake: Receiver;
const problems: string[] = [];
beforeEach(async () => {
  fake = await new Receiver().start();
  problems.length = 0;
});
afterEach(async () => {
  await fake.stop();
});

function serve(check: (r: Received) => string[]) {
  fake.respond = (r) => {
    const p = check(r);
    problems.push(...p);
    return p.length ? 422 : 201;
  };
}

describe('commit statuses against fakes of the GitHub and GitLab endpoints', () => {
  it('GitHub: path, headers and body as the API documents', async () => {
    serve(githubProblems);
    const q = new DeliveryQueue();
    const target = { provider: 'github' as const, baseUrl: `${fake.url}/api/v3/`, project: 'acme/infra', token: TOKEN, targetUrl: 'https://xops.example/status' };
    q.enqueue('s', commitStatusRequest(target, SHA, 'failure', 'x'.repeat(300)));
    await q.idle();
    const [r] = await fake.received(1);
    expect(problems).toEqual([]);
    expect(r.path).toBe(`/api/v3/repos/acme/infra/statuses/${SHA}`);
    const body = r.json() as Record<string, string>;
    expect(body).toMatchObject({ state: 'failure', context: 'xops', target_url: 'https://xops.example/status' });
    expect(body.description).toHaveLength(140);
  });

  it('GitLab: the project path URL-encoded as the id, PRIVATE-TOKEN, failure sent as failed', async () => {
    serve(gitlabProblems);
    const q = new DeliveryQueue();
    q.enqueue('s', commitStatusRequest({ provider: 'gitlab', baseUrl: `${fake.url}/api/v4`, project: 'ops/pools/lab', token: TOKEN }, SHA, 'failure', 'apply failed'));
    await q.idle();
    const [r] = await fake.received(1);
    expect(problems).toEqual([]);
    expect(r.path).toBe(`/api/v4/projects/ops%2Fpools%2Flab/statuses/${SHA}`);
    expect(r.json()).toEqual({ state: 'failed', description: 'apply failed', name: 'xops' });
  });

  it.each<[CommitStatusProvider, (r: Received) => string[], string]>([
    ['github', githubProblems, '/api/v3'],
    ['gitlab', gitlabProblems, '/api/v4'],
  ])('%s: pending when a commit is first seen, success once applied and converged, failure when rejected; repeats are not re-sent', async (provider, check, prefix) => {
    serve(check);
    const log: string[] = [];
    const logger = createLogger({ destination: new Writable({ write: (c, _e, done) => (log.push(String(c)), done()) }) });
    const metrics = new ControllerMetrics();
    const outputs = await OperatorOutputs.start({ commitStatus: { provider, baseUrl: fake.url + prefix, project: 'acme/infra', token: TOKEN }, metrics, logger });
    const summary = (commit: string, result: ReconcileSummary['result'], held = 0, error?: string): ReconcileSummary => ({
      trigger: ['poll'], commit, startedAt: '', finishedAt: '', durationMs: 1, result, ...(error ? { error } : {}), actions: { planned: 1, applied: 1 - held, failed: 0, held },
    });
    const other = 'b'.repeat(40);
    outputs.reconcileStarting(SHA);
    outputs.reconciled(summary(SHA, 'success', 1), { ok: true });
    outputs.reconciled(summary(SHA, 'success'), { ok: true });
    outputs.reconcileStarting(SHA); // a resync of the same commit: nothing new to say
    outputs.reconciled(summary(SHA, 'success'), { ok: true });
    outputs.reconcileStarting(other);
    outputs.reconciled(summary(other, 'invalid'), { ok: false, invalid: [] });
    outputs.reconcileStarting('local:abc'); // a plain folder's revision has no commit on the host
    await outputs.idle();
    expect(problems).toEqual([]);
    const sent = fake.requests.map((r) => [r.path.split('/').at(-1), (r.json() as { state: string }).state, (r.json() as { description: string }).description]);
    const failure = provider === 'github' ? 'failure' : 'failed';
    expect(sent).toEqual([
      [SHA, 'pending', 'xops is applying this commit'],
      [SHA, 'pending', '0 applied, 1 held back by policy'],
      [SHA, 'success', 'applied (1 action(s)) and converged'],
      [other, 'pending', 'xops is applying this commit'],
      [other, failure, 'rejected: the manifests are invalid'],
    ]);
    expect(metrics.registry.render()).toContain('xops_notifications_total{outcome="delivered",sink="commit-status"} 5');
    await outputs.close();
    // The token goes in a header only: never in the log or the metrics.
    expect(log.join('') + metrics.registry.render()).not.toContain(TOKEN);
  });

  it.each([
    ['github', 'https://github.com/acme/infra.git', 'acme/infra'],
    ['github', 'git@github.com:acme/infra.git', 'acme/infra'],
    ['github', 'ssh://git@github.example.com/acme/infra', 'acme/infra'],
    ['github', 'https://gitlab.com/group/sub/infra.git', undefined],
    ['gitlab', 'https://gitlab.com/group/sub/infra.git', 'group/sub/infra'],
    ['gitlab', 'git@gitlab.example.com:ops/infra.git', 'ops/infra'],
    ['gitlab', '/srv/git/infra', undefined],
    ['github', 'file:///srv/git/acme/infra', undefined],
  ] as const)('%s project of %s is %s', (provider, url, project) => {
    expect(projectOfRepoUrl(provider, url)).toBe(project);
  });
});
