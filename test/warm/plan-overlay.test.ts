/**
 * `xops plan DIR --server` from a Git work tree that holds one of the controller's recent commits:
 * the client sends only what `git diff` says differs from it (git-overlay.ts) and the controller
 * puts that over its own copy of the commit (plan-api.ts `from`). The plan must equal the cold plan
 * of the folder, action for action, and whenever git's "unchanged" might not be the bytes a folder
 * read gives (assume-unchanged entries, end-of-line attributes, a folder elsewhere in the
 * repository, a clone without the commit), the client must name every file by digest instead.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../src/config/index.js';
import type { RunningController } from '../../src/controller/controller.js';
import type { Plan } from '../../src/model/plan.js';
import { GitSource } from '../../src/source/git-source.js';
import { readManifestFolder } from '../../src/manifests/index.js';
import { pathsDigest } from '../../src/manifests/paths-digest.js';
import { ROOT, cleanEnv, xops } from '../cli/helpers.js';
import { startTestController, startWorld, stopWorld, until, type World } from '../e2e/helpers.js';
import { writeTokenConfig } from './token-config.js';
import { GitFixture, git } from '../source/git-fixture.js';

const TOKEN = 'warm-overlay-token-0123456789';
const FOLDER = 'deploy/manifests';
let w: World;
let f: GitFixture;
let controller: RunningController;
let commit: string;
let work: string;
let configFile: string;
let coldEnv: NodeJS.ProcessEnv;

// A VM without the owner label the examples' Policy requires: the commit is invalid, so the
// controller applies nothing while the tests plan (the pool stays as the cold plans see it), and
// still keeps the commit's files for clients to name.
const DENIED = 'apiVersion: xops/v1\nkind: VM\nmetadata: {name: no-owner}\nspec:\n  template: Debian Bookworm 12\n  memory: 1GiB\n  vcpus: 1\n';

beforeAll(async () => {
  w = await startWorld();
  work = mkdtempSync(join(tmpdir(), 'xops-warm-overlay-'));
  ({ configFile } = writeTokenConfig(work, TOKEN));
  f = new GitFixture();
  cpSync(join(ROOT, 'examples'), join(f.work, FOLDER), { recursive: true });
  f.write({ [`${FOLDER}/vms/no-owner.yaml`]: DENIED, 'README.md': 'outside the manifests folder\n' });
  // web-03 takes its user-data from a companion file; one over the companion cap is carried by no source.
  const vm = join(f.work, FOLDER, 'vms/web-cloud.yaml');
  writeFileSync(vm, readFileSync(vm, 'utf8').replace(/userData: \|\n(?: {6}.*\n)+/, 'userData: {file: cloud-init/web-03.user-data}\n'));
  f.write({ [`${FOLDER}/cloud-init/web-03.user-data`]: '#cloud-config\nhostname: web-03\npackages: [nginx]\n' });
  writeFileSync(join(f.work, FOLDER, 'cloud-init/huge.bin'), Buffer.alloc(1024 * 1024 + 1, 0x61));
  commit = f.commit('the examples, and a VM the Policy denies');
  controller = await startTestController(w, new GitSource({ url: f.remote, branch: 'main', path: FOLDER, cacheRoot: f.cacheRoot }), {
    config: await loadControllerConfig(configFile),
  });
  await until('the commit reconciled', () => controller.metrics.reconciles.get({ result: 'invalid' }), (n) => n >= 1);
  coldEnv = cleanEnv({ XOPS_XAPI_URL: w.sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' });
});
afterAll(async () => {
  await stopWorld(w);
  f?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

function essence(plan: Plan) {
  return { actions: plan.actions, refused: plan.refused, diagnostics: plan.diagnostics, source: plan.source };
}

/** A clone of the remote, as a pull-request check checks it out. */
function clone(name: string): string {
  const dir = join(work, name);
  git(work, 'clone', '--quiet', f.remote, dir);
  return dir;
}

/** What a pull request does to the folder: a changed VM, a new one, nested files, the denied VM gone. */
function edit(manifests: string): void {
  const app = join(manifests, 'vms/app-01.yaml');
  writeFileSync(app, readFileSync(app, 'utf8').replace(/vcpus: (\d+)/, (_m, n: string) => `vcpus: ${Number(n) + 1}`));
  rmSync(join(manifests, 'vms/no-owner.yaml'));
  // `vms-extra.yaml` sorts before `vms/…` as a string, after the folder `vms` in a walk.
  writeFileSync(join(manifests, 'vms-extra.yaml'), readFileSync(app, 'utf8').replace(/name: app-01/, 'name: extra-01'));
  mkdirSync(join(manifests, 'vms/more'), { recursive: true });
  writeFileSync(join(manifests, 'vms/more/tools.yaml'), readFileSync(app, 'utf8').replace(/name: app-01/, 'name: tools-01'));
}

/** The cold and the warm run of `args` (plan or diff, JSON), their plans, and how the controller was sent the sets. */
async function coldAndWarm(args: string[], cwd?: string): Promise<{ cold: Plan; warm: Plan; overlay: number; files: number }> {
  const sets = () => ({ overlay: controller.metrics.planRequests.get({ set: 'overlay' }), files: controller.metrics.planRequests.get({ set: 'files' }) });
  const before = sets();
  const cold = await xops([...args, '--out', 'json', '--config', configFile], { env: coldEnv, ...(cwd ? { cwd } : {}) });
  const warm = await xops([...args, '--out', 'json', '--server', controller.url, '--config', configFile], { env: cleanEnv({ NO_COLOR: '1' }), ...(cwd ? { cwd } : {}) });
  expect(warm.stderr).toBe(cold.stderr);
  expect(warm.code).toBe(cold.code);
  const after = sets();
  return { cold: JSON.parse(cold.stdout) as Plan, warm: JSON.parse(warm.stdout) as Plan, overlay: after.overlay - before.overlay, files: after.files - before.files };
}

/** The cold plan and the plan through the controller of `dir`. */
async function bothPlans(dir: string): ReturnType<typeof coldAndWarm> {
  const both = await coldAndWarm(['plan', dir]);
  expect(both.cold.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return both;
}

describe('xops plan --server from a Git work tree', () => {
  it("sends what differs from the controller's commit and plans exactly as the cold plan does", async () => {
    const manifests = join(clone('pr'), FOLDER);
    edit(manifests);
    const cpuBefore = controller.metrics.planCpu.get();
    const { cold, warm, overlay, files } = await bothPlans(manifests);
    expect({ overlay, files }).toEqual({ overlay: 1, files: 0 });
    // What the plan cost the controller is counted for operators (and the bench).
    expect(controller.metrics.planCpu.get()).toBeGreaterThan(cpuBefore);
    expect(cold.actions.map((a) => a.id)).toEqual(expect.arrayContaining(['create:VM/tools-01']));
    expect(cold.actions.some((a) => a.id.includes('no-owner'))).toBe(false);
    expect(essence(warm)).toEqual(essence(cold));
  });

  it('carries companion files as a folder read does: changed ones sent, unchanged ones kept, one over its cap left out', async () => {
    const manifests = join(clone('companions'), FOLDER);
    edit(manifests);
    writeFileSync(join(manifests, 'cloud-init/web-03.user-data'), '#cloud-config\nhostname: web-03\npackages: [nginx, curl]\n');
    writeFileSync(join(manifests, 'cloud-init/huge-too.bin'), Buffer.alloc(1024 * 1024 + 1, 0x62));
    const { cold, warm, overlay } = await bothPlans(manifests);
    expect(overlay).toBe(1);
    expect(JSON.stringify(cold.actions.find((a) => a.id === 'create:VM/web-03'))).toContain('curl');
    expect(essence(warm)).toEqual(essence(cold));
  });

  it('takes changes staged, committed on a branch, or neither alike', async () => {
    const top = clone('branch');
    const manifests = join(top, FOLDER);
    git(top, 'checkout', '--quiet', '-b', 'pr');
    edit(manifests);
    git(top, 'add', '-A');
    git(top, '-c', 'user.name=t', '-c', 'user.email=t@x.invalid', 'commit', '--quiet', '-m', 'the pull request');
    // And one more edit on top, not staged.
    writeFileSync(join(manifests, 'vms/db-01.yaml'), readFileSync(join(manifests, 'vms/db-01.yaml'), 'utf8').replace(/description: [^\n]*/, 'description: edited after the commit'));
    const { cold, warm, overlay } = await bothPlans(manifests);
    expect(overlay).toBe(1);
    expect(essence(warm)).toEqual(essence(cold));
  });

  it('names every file by digest when git could call a changed file unchanged', async () => {
    const top = clone('assumed');
    const manifests = join(top, FOLDER);
    edit(manifests);
    // git no longer looks at this file: its edit would be invisible to `git diff`.
    git(top, 'update-index', '--assume-unchanged', `${FOLDER}/vms/app-01.yaml`);
    const assumed = await bothPlans(manifests);
    expect({ overlay: assumed.overlay, files: assumed.files }).toEqual({ overlay: 0, files: 1 });
    expect(essence(assumed.warm)).toEqual(essence(assumed.cold));

    const converted = clone('attributes');
    writeFileSync(join(converted, '.gitattributes'), '*.yaml text eol=crlf\n');
    edit(join(converted, FOLDER));
    const eol = await bothPlans(join(converted, FOLDER));
    expect({ overlay: eol.overlay, files: eol.files }).toEqual({ overlay: 0, files: 1 });
    expect(essence(eol.warm)).toEqual(essence(eol.cold));
  });

  it('names every file by digest from another folder of the repository, or a repository without the commit', async () => {
    const top = clone('elsewhere');
    cpSync(join(top, FOLDER), join(top, 'staging'), { recursive: true });
    rmSync(join(top, 'staging/vms/no-owner.yaml'));
    const moved = await bothPlans(join(top, 'staging'));
    expect({ overlay: moved.overlay, files: moved.files }).toEqual({ overlay: 0, files: 1 });
    expect(essence(moved.warm)).toEqual(essence(moved.cold));

    const unrelated = join(work, 'unrelated');
    cpSync(join(f.work, FOLDER), join(unrelated, FOLDER), { recursive: true });
    rmSync(join(unrelated, FOLDER, 'vms/no-owner.yaml'));
    git(unrelated, 'init', '--quiet');
    const fresh = await bothPlans(join(unrelated, FOLDER));
    expect({ overlay: fresh.overlay, files: fresh.files }).toEqual({ overlay: 0, files: 1 });
    expect(essence(fresh.warm)).toEqual(essence(fresh.cold));
  });
});

describe('xops diff --server in a repository that holds one of its commits', () => {
  /** The cold diff and the diff through the controller of the pull request in `top`. */
  const bothDiffs = (top: string) => coldAndWarm(['diff', '--base', 'origin/main', '--head', 'HEAD', FOLDER], top);

  it('sends, for both commits, only the blobs that differ from it, and marks the same introduced actions as the cold diff', async () => {
    const top = clone('diff');
    git(top, 'checkout', '--quiet', '-b', 'pr');
    edit(join(top, FOLDER));
    git(top, 'add', '-A');
    git(top, '-c', 'user.name=t', '-c', 'user.email=t@x.invalid', 'commit', '--quiet', '-m', 'the pull request');
    const { cold, warm, overlay, files } = await bothDiffs(top);
    expect({ overlay, files }).toEqual({ overlay: 2, files: 0 });
    expect(warm.actions.filter((a) => a.introduced).map((a) => a.id)).toEqual(expect.arrayContaining(['create:VM/tools-01']));
    expect(essence(warm)).toEqual(essence(cold));
  });

  it('names every file by digest when a commit holds a symlink in the folder', async () => {
    const top = clone('diff-link');
    git(top, 'checkout', '--quiet', '-b', 'pr');
    edit(join(top, FOLDER));
    symlinkSync('app-01.yaml', join(top, FOLDER, 'vms/app-alias.yml'));
    git(top, 'add', '-A');
    git(top, '-c', 'user.name=t', '-c', 'user.email=t@x.invalid', 'commit', '--quiet', '-m', 'a link');
    const { cold, warm, overlay, files } = await bothDiffs(top);
    expect({ overlay, files }).toEqual({ overlay: 0, files: 2 });
    expect(essence(warm)).toEqual(essence(cold));
  });
});

describe('/plan with from', () => {
  function call(method: 'GET' | 'POST', body?: string, token = TOKEN): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
      const req = request(controller.url + '/plan', { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      req.on('error', reject);
      req.end(body ?? '');
    });
  }

  it('lists the commits it keeps and its folder, behind the token', async () => {
    expect((await call('GET', undefined, '')).status).toBe(401);
    const bases = await call('GET');
    expect(bases).toEqual({ status: 200, json: { commits: [commit], folder: FOLDER } });
  });

  it('plans an overlay as it plans the same files sent whole', async () => {
    const files = (await readManifestFolder(join(f.work, FOLDER))).files.filter((x) => x.path !== 'vms/no-owner.yaml');
    const whole = await call('POST', JSON.stringify({ root: 'm', files: files.map((x) => ({ path: x.path, content: x.content.toString('utf8') })) }));
    const from = { commit, removed: ['vms/no-owner.yaml'], paths: pathsDigest(files.map((x) => x.path)) };
    const overlay = await call('POST', JSON.stringify({ root: 'm', files: [], from }));
    // The same set in a tree's order: by path, `vms-extra.yaml` before `vms/…` (none here, so the same plan).
    const byPath = await call('POST', JSON.stringify({ root: 'm', files: [], from: { ...from, order: 'tree', paths: pathsDigest(files.map((x) => x.path).sort()) } }));
    expect(byPath.status).toBe(200);
    expect(whole.status).toBe(200);
    expect(overlay.status).toBe(200);
    expect(essence((overlay.json as { plan: Plan }).plan)).toEqual(essence((whole.json as { plan: Plan }).plan));
  });

  it('refuses (409, overlay: false) a commit it does not keep, or a result whose paths are not the client\'s', async () => {
    const paths = pathsDigest(['pool.yaml']);
    const unknown = await call('POST', JSON.stringify({ files: [], from: { commit: 'a'.repeat(40), removed: [], paths } }));
    expect(unknown.status).toBe(409);
    expect(unknown.json).toMatchObject({ overlay: false, error: expect.stringMatching(/no longer keeps commit a{40}/) });
    // The client says it has only pool.yaml, but removed nothing: the commit's other files would be planned too.
    const wrong = await call('POST', JSON.stringify({ files: [], from: { commit, removed: [], paths } }));
    expect(wrong.status).toBe(409);
    expect(wrong.json.overlay).toBe(false);
  });

  it.each([
    ['a commit that is not a commit id', { commit: 'HEAD', removed: [], paths: 'a'.repeat(64) }, /^body\.from\.commit must be a commit id/],
    ['removed paths that are not strings', { commit: 'a'.repeat(40), removed: [1], paths: 'a'.repeat(64) }, /^body\.from\.removed\[0\] must be a non-empty string/],
    ['a paths digest that is not one', { commit: 'a'.repeat(40), removed: [], paths: 'x' }, /^body\.from\.paths must be 64 lower-case hex digits/],
    ['an order it does not know', { commit: 'a'.repeat(40), removed: [], paths: 'a'.repeat(64), order: 'random' }, /^body\.from\.order must be walk or tree/],
  ])('answers 400 to a malformed from (%s), naming the field', async (_why, from, message) => {
    const r = await call('POST', JSON.stringify({ files: [], from }));
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(message);
  });
});
