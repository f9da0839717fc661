import { renameSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signWebhookBody } from '../../src/controller/webhook.js';
import { GitSource } from '../../src/source/git-source.js';
import { LocalSource } from '../../src/source/local-source.js';
import { GitFixture } from '../source/git-fixture.js';
import {
  GiB,
  LOCAL_DEBOUNCE_MS,
  manifestFolder,
  metrics,
  policyManifest,
  resetWorld,
  startTestController,
  startWorld,
  status,
  stopWorld,
  until,
  vmManifest,
  vmRecord,
  writeFiles,
  type World,
} from './helpers.js';

const SECRET = 'e2e-webhook-secret';
let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => stopWorld(w));
afterEach(() => resetWorld(w));

function gitFixture(): GitFixture {
  const f = new GitFixture();
  w.cleanups.push(() => f.cleanup());
  return f;
}

function webhook(url: string, signature?: string): Promise<Response> {
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  return fetch(`${url}/webhook`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature ?? signWebhookBody(SECRET, body) },
  });
}

describe('xops run against a Git repository and the simulator', () => {
  it('applies a commit, keeps the pool on the last good commit when the next is invalid, rejects a bad signature, and survives an unreachable remote', async () => {
    const f = gitFixture();
    f.write({ 'vms/git-vm.yaml': vmManifest('git-vm', { memory: '1GiB', powerState: 'halted' }) });
    const good = f.commit('add git-vm');
    const c = await startTestController(w, new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot }), { webhookSecret: SECRET, branch: 'main' });

    const applied = await until('first commit applied', () => status(c), (s) => s.commit === good && s.lastReconcile?.result === 'success');
    expect(applied.lastReconcile?.actions.applied).toBeGreaterThan(0);
    const vm = await vmRecord(w, 'git-vm');
    expect(vm?.rec['memory_static_max']).toBe(GiB);
    expect((vm?.rec['other_config'] as Record<string, string>)['xops.managed']).toBe('VM/git-vm');

    // The manifest now has an error (memory is not a size) AND a change: nothing of it may reach the pool.
    f.write({ 'vms/git-vm.yaml': vmManifest('git-vm', { memory: 'plenty', powerState: 'halted' }) });
    const bad = f.commit('break git-vm');
    expect((await webhook(c.url)).status).toBe(202);
    const rejected = await until('invalid commit rejected', () => status(c), (s) => s.rejected?.commit === bad);
    expect(rejected.commit).toBe(good);
    expect(rejected.rejected?.diagnostics.join('\n')).toMatch(/^vms\/git-vm\.yaml:\d+:\d+: VM\/git-vm: spec\.memory: /m);
    expect(rejected.lastError?.message).toContain(`staying on ${good}`);
    expect((await vmRecord(w, 'git-vm'))?.rec['memory_static_max']).toBe(GiB);

    // A forged delivery is refused and triggers nothing.
    expect((await webhook(c.url, signWebhookBody('not-the-secret', 'x'))).status).toBe(401);

    f.write({ 'vms/git-vm.yaml': vmManifest('git-vm', { memory: '2GiB', powerState: 'halted' }) });
    const fixed = f.commit('fix git-vm, with 2GiB');
    await webhook(c.url);
    const inForce = await until('fixed commit applied', () => status(c), (s) => s.commit === fixed && s.lastReconcile?.result === 'success');
    expect(inForce.rejected).toBeUndefined();
    expect(inForce.resources).toEqual([{ address: 'VM/git-vm', state: 'synced' }]);
    expect((await vmRecord(w, 'git-vm'))?.rec['memory_static_max']).toBe(2 * GiB);

    renameSync(f.remote, f.remote + '.gone');
    await webhook(c.url);
    const unreachable = await until('fetch failure reported', () => status(c), (s) => s.source.lastSyncError !== undefined);
    expect(unreachable.commit).toBe(fixed);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${c.url}/readyz`)).status).toBe(503);
    // The loop still reconciles the last good commit against the pool (drift keeps being healed).
    await w.other.call('VM.set_name_description', (await vmRecord(w, 'git-vm'))!.ref, 'edited while the remote is down');
    await until('drift healed while the remote is unreachable', async () => (await vmRecord(w, 'git-vm'))?.rec['name_description'], (d) => d === 'managed by the e2e test');
  });

  it('rejects a commit whose secretRef names a file while the operator allows no secret files', async () => {
    const f = gitFixture();
    f.write({
      'sr.yaml': [
        'apiVersion: xops/v1', 'kind: SR', 'metadata:', '  name: git-smb', 'spec:', '  type: smb', '  deviceConfig:',
        '    server: //files/x', '    username: u', '    password:', '      secretRef: {file: secrets/smb}', '',
      ].join('\n'),
    });
    const commit = f.commit('smb with a relative secret file');
    const c = await startTestController(w, new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot }));
    const s = await until('commit rejected', () => status(c), (x) => x.rejected?.commit === commit);
    expect(s.rejected?.diagnostics).toEqual([
      "sr.yaml:11:25: SR/git-smb: spec.deviceConfig.password.secretRef.file: secret files are refused: the operator's configuration sets no secrets.dir",
    ]);
  });
});

describe('drift: a managed VM changed behind xops', () => {
  const vmFiles = (name: string, drift: 'heal' | 'report') => ({
    'vm.yaml': vmManifest(name, { powerState: 'halted' }),
    'policy.yaml': policyManifest(`drift-${drift}`, [`drift: ${drift}`]),
  });

  it('is put back when the policy says heal, and /status and /metrics say so', async () => {
    const dir = manifestFolder(w, vmFiles('drift-heal-vm', 'heal'));
    const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }));
    await until('VM created', () => status(c), (s) => s.lastReconcile?.result === 'success' && s.resources[0]?.state === 'synced');
    const vm = (await vmRecord(w, 'drift-heal-vm'))!;

    const setDescription = { method: 'VM.set_name_description', result: 'success' };
    const setsBefore = c.metrics.xapiCalls.get(setDescription);
    await w.other.call('VM.set_name_description', vm.ref, 'changed by hand');
    // No resync is configured: only the XAPI event can have triggered this.
    const healed = await until('drift healed', () => status(c), (s) => s.drift.length > 0);
    expect(healed.drift).toEqual([{ address: 'VM/drift-heal-vm', paths: ['spec.description'], healed: true }]);
    expect(healed.lastReconcile?.trigger).toEqual(['xapi-event']);
    expect((await vmRecord(w, 'drift-heal-vm'))?.rec['name_description']).toBe('managed by the e2e test');
    const text = await metrics(c);
    expect(text).toContain('xops_drift_detected_total{outcome="healed"} 1');
    // Every XAPI request is counted, the event stream that saw the change included.
    expect(text).toMatch(/^xops_xapi_calls_total\{method="event\.from",result="success"\} [1-9]/m);
    expect(c.metrics.xapiCalls.get(setDescription)).toBe(setsBefore + 1);

    // Healing is xops' own change: its echo in the event stream must not start another reconcile.
    const reconciles = c.metrics.reconciles.get({ result: 'success' });
    await new Promise((r) => setTimeout(r, 300));
    expect(c.metrics.reconciles.get({ result: 'success' })).toBe(reconciles);
  });

  it('is only reported when the policy says report: the pool keeps the change', async () => {
    const dir = manifestFolder(w, vmFiles('drift-report-vm', 'report'));
    const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }));
    await until('VM created', () => status(c), (s) => s.lastReconcile?.result === 'success' && s.resources[0]?.state === 'synced');
    const vm = (await vmRecord(w, 'drift-report-vm'))!;

    await w.other.call('VM.set_name_description', vm.ref, 'changed by hand');
    const reported = await until('drift reported', () => status(c), (s) => s.drift.length > 0);
    expect(reported.drift).toEqual([{ address: 'VM/drift-report-vm', paths: ['spec.description'], healed: false }]);
    expect(reported.resources).toEqual([{ address: 'VM/drift-report-vm', state: 'held', reason: expect.stringContaining('drift is reported, not healed') }]);
    expect(reported.held).toEqual([expect.objectContaining({ address: 'VM/drift-report-vm', policy: 'drift-report' })]);
    expect(reported.lastReconcile?.actions.applied).toBe(0);
    expect((await vmRecord(w, 'drift-report-vm'))?.rec['name_description']).toBe('changed by hand');
    const text = await metrics(c);
    expect(text).toContain('xops_drift_detected_total{outcome="reported"} 1');
    expect(text).toContain('xops_drifted_resources 1');
  });
});

describe('under injected faults', () => {
  it('keeps running through a master failover, invalid sessions, lost events and connection resets, and converges', async () => {
    const dir = manifestFolder(w, { 'vm.yaml': vmManifest('faulty-vm', { powerState: 'halted' }) });
    const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }));
    await until('VM created', () => status(c), (s) => s.lastReconcile?.result === 'success');

    w.sim.faults.inject({ failoverTo: 1 });
    w.sim.faults.inject({ sessionInvalid: 'all' });
    w.sim.faults.inject({ eventsLost: 2 });
    w.sim.faults.inject({ connectionReset: { count: 2, writesOnly: true, afterExecute: true } });
    writeFiles(dir, { 'vm.yaml': vmManifest('faulty-vm', { powerState: 'halted', memory: '2GiB', description: 'after the faults' }) });

    await until(
      'the edit applied despite the faults',
      async () => (await vmRecord(w, 'faulty-vm'))?.rec,
      (rec) => rec?.['memory_static_max'] === 2 * GiB && rec?.['name_description'] === 'after the faults',
      15_000,
    );
    const s = await until('a successful reconcile after the faults', () => status(c), (x) => x.lastReconcile?.result === 'success' && x.resources[0]?.state === 'synced');
    expect(s.resources).toEqual([{ address: 'VM/faulty-vm', state: 'synced' }]);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    // Every injected fault was met on the way (none left unused), so convergence went through them.
    expect(w.sim.faults.state().rules).toEqual([]);

    // And drift is still noticed through the re-established event stream.
    await w.other.call('VM.set_name_description', (await vmRecord(w, 'faulty-vm'))!.ref, 'changed after the faults');
    await until('drift healed after the faults', async () => (await vmRecord(w, 'faulty-vm'))?.rec['name_description'], (d) => d === 'after the faults');
    w.sim.failover(0);
  });
});
