/**
 * The warm path end to end: a controller watching the simulator's demo pool, and `xops plan DIR
 * --server URL` / `xops diff --server URL` as a user runs them (the built CLI, real HTTP). A plan
 * through the controller must equal the cold plan of the same manifests, action for action, under
 * the same operator configuration; the API refuses requests without the token, malformed ones and
 * oversized ones.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../src/config/index.js';
import type { RunningController } from '../../src/controller/controller.js';
import type { Plan } from '../../src/model/plan.js';
import { LocalSource } from '../../src/source/local-source.js';
import { readManifestFolder } from '../../src/manifests/index.js';
import { fileDigest } from '../../src/manifests/file-digest.js';
import { ROOT, cleanEnv, xops } from '../cli/helpers.js';
import { startTestController, startWorld, stopWorld, type World } from '../e2e/helpers.js';
import { writeTokenConfig } from './token-config.js';

const TOKEN = 'warm-plan-token-0123456789';
let w: World;
let controller: RunningController;
let work: string;
let configFile: string;
let tokenFile: string;
let coldEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  w = await startWorld();
  work = mkdtempSync(join(tmpdir(), 'xops-warm-'));
  // A protected VM the examples do not name, and the token: the same file for the cold and warm plans.
  ({ tokenFile, configFile } = writeTokenConfig(work, TOKEN, 'protected:\n  - {name: legacy-web01, class: VM}\n'));
  const config = await loadControllerConfig(configFile);
  // The controller's own repository is empty: it changes nothing in the pool while the tests plan.
  const empty = join(work, 'empty');
  execFileSync('mkdir', ['-p', empty]);
  controller = await startTestController(w, new LocalSource({ dir: empty }), { config });
  coldEnv = cleanEnv({ XOPS_XAPI_URL: w.sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' });
});
afterAll(async () => {
  await stopWorld(w);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** What makes two plans the same plan: every action (id, kind, changes, order, disruption), refusals and diagnostics. */
function essence(plan: Plan) {
  return { actions: plan.actions, refused: plan.refused, diagnostics: plan.diagnostics, source: plan.source };
}

function examples(name: string): string {
  const dir = join(work, name);
  cpSync(join(ROOT, 'examples'), dir, { recursive: true });
  return dir;
}

describe('xops plan --server', () => {
  it('plans the examples through the controller exactly as the cold plan does, action for action', async () => {
    const dir = examples('same');
    const cold = await xops(['plan', dir, '--out', 'json', '--config', configFile], { env: coldEnv });
    const warm = await xops(['plan', dir, '--out', 'json', '--server', controller.url, '--config', configFile], { env: cleanEnv({ NO_COLOR: '1' }) });
    expect(cold.stderr).toBe('');
    expect(warm.stderr).toBe('');
    expect(warm.code).toBe(cold.code);
    const coldPlan = JSON.parse(cold.stdout) as Plan;
    const warmPlan = JSON.parse(warm.stdout) as Plan;
    expect(coldPlan.actions.length).toBeGreaterThan(5);
    expect(essence(warmPlan)).toEqual(essence(coldPlan));
  });

  it("sees a change made in the pool after the controller started (its cache is event-fed), and applies nothing", async () => {
    const dir = examples('fresh');
    const [ref] = await w.other.call<string[]>('VM.get_by_name_label', 'legacy-web01');
    await w.other.call('VM.set_name_label', ref, 'web-01');
    try {
      const cold = await xops(['plan', dir, '--out', 'json', '--config', configFile], { env: coldEnv });
      const warm = await xops(['plan', dir, '--out', 'json', '--server', controller.url, '--token-file', tokenFile], { env: cleanEnv() });
      // An unmanaged VM now has a manifest's name: both plans report the same conflict.
      expect(warm.code).toBe(cold.code);
      expect(essence(JSON.parse(warm.stdout) as Plan)).toEqual(essence(JSON.parse(cold.stdout) as Plan));
      expect(warm.stderr).toBe(cold.stderr);
    } finally {
      await w.other.call('VM.set_name_label', ref, 'legacy-web01');
    }
    // Planning is read-only: the pool still lacks every VM the examples would create.
    expect(await w.other.call<string[]>('VM.get_by_name_label', 'app-01')).toEqual([]);
  });

  it('refuses a protected object through the controller as the cold plan does', async () => {
    const dir = examples('protected');
    writeFileSync(join(dir, 'vms/legacy.yaml'), readFileSync(join(dir, 'vms/app-01.yaml'), 'utf8').replace(/name: app-01/, 'name: legacy-web01'));
    const cold = await xops(['plan', dir, '--out', 'json', '--allow-adopt', '--config', configFile], { env: coldEnv });
    const warm = await xops(['plan', dir, '--out', 'json', '--server', controller.url, '--config', configFile], { env: cleanEnv() });
    expect(cold.code).toBe(1);
    expect(warm.code).toBe(1);
    expect(warm.stderr).toBe(cold.stderr.replace(/.*--allow-adopt.*\n/g, ''));
    expect(warm.stderr).toMatch(/legacy-web01/);
  });

  it('stops at manifest errors, printing them, as the cold plan does', async () => {
    const dir = examples('broken');
    writeFileSync(join(dir, 'vms/bad.yaml'), 'apiVersion: xops/v1\nkind: VM\nmetadata: {name: bad}\nspec: {vcpus: many}\n');
    const cold = await xops(['plan', dir, '--config', configFile], { env: coldEnv });
    const warm = await xops(['plan', dir, '--server', controller.url, '--config', configFile], { env: cleanEnv() });
    expect(warm.code).toBe(1);
    expect(warm.stdout).toBe('');
    expect(warm.stderr).toBe(cold.stderr);
    expect(warm.stderr).toMatch(/vms\/bad\.yaml:\d+:\d+: VM\/bad: .*nothing was planned|nothing was planned/s);
  });

  it('re-validates a file changed after a cached request, and plans from the cache as cold', async () => {
    // The controller keeps every file it parsed and validated by content digest, and whole loads
    // of the same files: the second request is answered from both, the third must not be.
    const dir = examples('cached');
    const warmPlan = async () => xops(['plan', dir, '--out', 'json', '--server', controller.url, '--config', configFile], { env: cleanEnv({ NO_COLOR: '1' }) });
    const coldPlan = async () => xops(['plan', dir, '--out', 'json', '--config', configFile], { env: coldEnv });
    const first = await warmPlan();
    const again = await warmPlan();
    const cold = await coldPlan();
    expect(again.code).toBe(cold.code);
    expect(essence(JSON.parse(again.stdout) as Plan)).toEqual(essence(JSON.parse(cold.stdout) as Plan));
    expect(essence(JSON.parse(again.stdout) as Plan)).toEqual(essence(JSON.parse(first.stdout) as Plan));

    // The same path, new content that breaks the schema: its errors, exactly as the cold plan prints them.
    const app = join(dir, 'vms/app-01.yaml');
    const good = readFileSync(app, 'utf8');
    writeFileSync(app, good.replace(/vcpus: \d+/, 'vcpus: lots'));
    const brokenWarm = await warmPlan();
    const brokenCold = await coldPlan();
    expect(brokenWarm.code).toBe(1);
    expect(brokenWarm.stdout).toBe('');
    expect(brokenWarm.stderr).toMatch(/vms\/app-01\.yaml:\d+:\d+: .*vcpus/);
    expect(brokenWarm.stderr).toBe(brokenCold.stderr);

    // A valid change of the cached file shows in the plan.
    writeFileSync(app, good.replace(/vcpus: \d+/, 'vcpus: 7'));
    const changed = JSON.parse((await warmPlan()).stdout) as Plan;
    expect(changed.actions).not.toEqual((JSON.parse(first.stdout) as Plan).actions);
    expect(JSON.stringify(changed.actions.find((a) => a.address === 'VM/app-01'))).toMatch(/"vcpus":7\b/);
  });

  it('without a token, or with a wrong one, is refused with a one-line error', async () => {
    const dir = examples('tokens');
    const none = await xops(['plan', dir, '--server', controller.url], { env: cleanEnv() });
    expect(none.code).toBe(1);
    expect(none.stderr).toBe("xops: --server needs a token: --token-file FILE, or http.tokenFile in the configuration (--config)\n");
    const wrongFile = join(work, 'wrong-token');
    writeFileSync(wrongFile, 'not-the-token\n');
    const wrong = await xops(['plan', dir, '--server', controller.url, '--token-file', wrongFile], { env: cleanEnv() });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(`xops: --server ${controller.url}: HTTP 401: missing or wrong bearer token\n`);
  });

  it('refuses flags the controller decides (--xapi, --allow-*)', async () => {
    const r = await xops(['plan', '.', '--server', controller.url, '--token-file', tokenFile, '--allow-prune'], { env: cleanEnv() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--server plans with the controller's pool, limits and repository identity/);
  });
});

describe('xops diff --server', () => {
  it('marks the same introduced actions as the cold diff', async () => {
    const repo = join(work, 'repo');
    cpSync(join(ROOT, 'examples'), repo, { recursive: true });
    rmSync(join(repo, 'vms/app-01.yaml'));
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'base');
    cpSync(join(ROOT, 'examples/vms/app-01.yaml'), join(repo, 'vms/app-01.yaml'));
    git('add', '-A');
    git('commit', '-qm', 'head');
    const args = ['diff', '--base', 'HEAD~1', '--head', 'HEAD', repo, '--out', 'json', '--config', configFile];
    const cold = await xops(args, { env: coldEnv, cwd: repo });
    const warm = await xops([...args, '--server', controller.url], { env: cleanEnv(), cwd: repo });
    expect(warm.stderr).toBe(cold.stderr);
    expect(warm.code).toBe(cold.code);
    const coldPlan = JSON.parse(cold.stdout) as Plan;
    const warmPlan = JSON.parse(warm.stdout) as Plan;
    expect(warmPlan.actions.filter((a) => a.introduced).map((a) => a.id)).toContain('create:VM/app-01');
    expect(essence(warmPlan)).toEqual(essence(coldPlan));
  });
});

describe('POST /plan refusals', () => {
  function post(path: string, body: string | Buffer, headers: Record<string, string>): Promise<{ status: number; json: { error?: string; missing?: string[] } }> {
    return new Promise((resolve, reject) => {
      const req = request(controller.url + path, { method: 'POST', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      // The server may answer 413 and close before a large body is fully written.
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
      req.end(body);
    });
  }
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

  it('answers 401 without the token, before reading anything', async () => {
    const r = await post('/plan', '{"files":[]}', { 'content-type': 'application/json' });
    expect(r.status).toBe(401);
  });

  it.each([
    ['not JSON', '{files', /^the body is not JSON/],
    ['no files array', '{"files": "x"}', /^body\.files must be an array/],
    ['a file without content', '{"files": [{"path": "a.yaml"}]}', /^body\.files\[0\]\.content must be a string/],
    ['a base commit that is not a commit id', '{"files": [], "base": {"files": [], "commit": "main; rm -rf"}}', /^base\.commit must be a commit id/],
  ])('answers 400 to a malformed body (%s), naming the field', async (_why, body, message) => {
    const r = await post('/plan', body, auth);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(message);
  });

  it('plans files named by digest as it plans their bytes, and asks (409) for those it has not seen', async () => {
    const dir = examples('digests');
    const files = [...(await readManifestFolder(dir)).files];
    const withBytes = { root: dir, files: files.map((f) => ({ path: f.path, content: f.content.toString('utf8') })) };
    const byDigest = { root: dir, files: files.map((f) => ({ path: f.path, sha256: fileDigest(f.content) })) };
    // A digest of bytes nobody sent: asked for by path, and nothing is planned.
    const unseen = { ...byDigest, files: [...byDigest.files, { path: 'vms/unseen.yaml', sha256: fileDigest(Buffer.from(`kind: VM # ${Date.now()}`)) }] };
    const asked = await post('/plan', JSON.stringify(unseen), auth);
    expect(asked.status).toBe(409);
    expect(asked.json.missing).toEqual(['vms/unseen.yaml']);
    const full = await post('/plan', JSON.stringify(withBytes), auth);
    expect(full.status).toBe(200);
    // Once sent, the same bytes are known by their digest alone.
    const named = await post('/plan', JSON.stringify(byDigest), auth);
    expect(named.status).toBe(200);
    expect(essence((named.json as { plan: Plan }).plan)).toEqual(essence((full.json as { plan: Plan }).plan));
  });

  it('leaves out what a plan was made against (observed.objects) for a client that only shows it', async () => {
    const dir = examples('shown');
    const files = (await readManifestFolder(dir)).files.map((f) => ({ path: f.path, content: f.content.toString('utf8') }));
    const whole = (await post('/plan', JSON.stringify({ root: dir, files }), auth)).json as { plan: Plan };
    const shown = (await post('/plan', JSON.stringify({ root: dir, files, objects: false }), auth)).json as { plan: Plan };
    expect(Object.keys(whole.plan.observed.objects).length).toBeGreaterThan(10);
    expect(shown.plan.observed).toEqual({ token: whole.plan.observed.token, objects: {} });
    expect(essence(shown.plan)).toEqual(essence(whole.plan));
    expect((await post('/plan', JSON.stringify({ files, objects: 'no' }), auth)).json.error).toMatch(/^body\.objects must be true or false/);
  });

  it('takes a digest only as 64 lower-case hex digits', async () => {
    const r = await post('/plan', JSON.stringify({ files: [{ path: 'a.yaml', sha256: '../../etc/passwd' }] }), auth);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/^body\.files\[0\]\.sha256 must be 64 lower-case hex digits/);
  });

  it('answers 413 to a body over the limit, by its declared length and while it streams', async () => {
    const declared = await post('/plan', '{}', { ...auth, 'content-length': String(1024 ** 3) });
    expect(declared.status).toBe(413);
  });

  it('answers 415 to a body that is not JSON by its type', async () => {
    const r = await post('/plan', 'files: []', { ...auth, 'content-type': 'application/yaml' });
    expect(r.status).toBe(415);
  });
});
