/**
 * Rolling changes end to end through the simulator: a Policy's `rollout` paces reboot changes over the VMs it
 * selects. The healthyAfter wait runs on the simulator's clock, which only this test moves, and every step
 * waits on an event (a VM reported healthy), never on a sleep.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyFolder, failures, planFolder, REPO, simWithClient, scratch } from '../apply/helpers.js';
import { applyPlan, type ActionResult } from '../../src/apply/executor.js';
import type { ApplyClock } from '../../src/apply/context.js';
import type { Action } from '../../src/model/plan.js';
import type { SimClock } from '../../src/sim/index.js';
import { renderText } from '../../src/render/index.js';
import { formatSummary } from '../../src/apply/progress.js';
import { reconcileOutcome } from '../../src/controller/outcome.js';
import { resourceStates } from '../../src/controller/status.js';
import { loadManifests } from '../../src/manifests/index.js';
import { applyAutomation, unavailableVMs } from '../../src/policy/index.js';

const NAMES = ['web-1', 'web-2', 'web-3', 'web-4', 'web-5', 'web-6'];
const vm = (name: string, memory: string) => `apiVersion: xops/v1
kind: VM
metadata: {name: ${name}, labels: {tier: web}}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: ${memory}
  disks:
    - {name: root, size: 2GiB, sr: pool-nfs}
  powerState: running
`;
const policy = (rollout: string) => `apiVersion: xops/v1
kind: Policy
metadata: {name: web-rollout}
spec:
  match: {labels: {tier: web}}
  admission: []
  automation:
    rollout: ${rollout}
`;

const { cleanup, folder } = scratch('xops-rollout-');

/** The apply clock is the pool's: a healthyAfter sleep ends when the test advances the simulator's clock. */
function poolClock(clock: SimClock): ApplyClock {
  const sleepers: { until: number; wake: () => void }[] = [];
  clock.onAdvance((now) => {
    for (const s of sleepers.splice(0)) (s.until <= now.getTime() ? s.wake : () => sleepers.push(s))();
  });
  return {
    now: () => clock.now().getTime(),
    sleep: (ms) => new Promise<void>((wake) => sleepers.push({ until: clock.now().getTime() + ms, wake })),
  };
}

/** Resolves when `count` paced VMs have reported healthy: the point where their healthyAfter wait begins. */
function healthyCounter() {
  const healthy: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    healthy,
    mark(action: Action) {
      healthy.push(action.name);
      for (const w of waiters.filter((w) => healthy.length >= w.count)) w.resolve();
    },
    reach(count: number): Promise<void> {
      return healthy.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }));
    },
  };
}

describe('Policy rollout', () => {
  it('a memory change over six VMs with maxUnavailable 2 runs in three batches; a failure in batch two holds the rest', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const created = await applyFolder(client, await folder({ 'vms.yaml': NAMES.map((n) => vm(n, '512MiB')).join('---\n') }));
    expect(failures(created.result)).toEqual([]);

    const dir = await folder({ 'vms.yaml': NAMES.map((n) => vm(n, '1GiB')).join('---\n'), 'policy.yaml': policy('{maxUnavailable: 2, healthyAfter: 2m}') });
    const { plan } = await planFolder(client, dir);
    // Above static_max: each VM is halted, changed and started again (a reboot), two at a time.
    expect(plan.actions.map((a) => [a.name, a.disruption, a.rollout?.batch, a.rollout?.batches])).toEqual(
      NAMES.map((n, i) => [n, 'reboot', Math.floor(i / 2) + 1, 3]),
    );
    const text = renderText(plan, { color: false });
    expect(text).toContain('batch 1 of 3: web-1, web-2\n  batch 2 of 3: web-3, web-4\n  batch 3 of 3: web-5, web-6');
    expect(text).toContain('rollout batch 2 of 3 (policy web-rollout)');

    const counter = healthyCounter();
    const running = new Set<string>();
    let most = 0;
    const startedAt = new Map<string, number>();
    const apply = applyPlan(plan, client, {
      repo: REPO,
      retries: 0,
      clock: poolClock(sim.clock),
      listener: {
        started(a) {
          running.add(a.name);
          most = Math.max(most, running.size);
          startedAt.set(a.name, sim.clock.now().getTime());
        },
        finished(r: ActionResult) {
          running.delete(r.action.name);
        },
        healthy: (a) => counter.mark(a),
      },
    });

    // Batch 1 went through and is healthy; batch 2 waits for its healthyAfter, on a clock that has not moved.
    await counter.reach(2);
    expect(counter.healthy.sort()).toEqual(['web-1', 'web-2']);
    expect([...startedAt.keys()].sort()).toEqual(['web-1', 'web-2']);
    // The next VM.start of the pool fails: one of batch 2 stays halted.
    sim.faults.inject({ methods: 'VM.start', taskFailure: { count: 1, code: 'HOST_NOT_ENOUGH_FREE_MEMORY', params: ['1073741824', '0'] } });
    const t0 = sim.clock.now().getTime();
    sim.clock.advance(120_000);
    await counter.reach(3);
    expect(startedAt.get('web-3')).toBeGreaterThanOrEqual(t0 + 120_000);
    sim.clock.advance(120_000);
    const result = await apply;

    expect(most).toBeLessThanOrEqual(2);
    const state = Object.fromEntries(result.results.map((r) => [r.action.name, r.state]));
    const [failed, survived] = state['web-3'] === 'failed' ? ['web-3', 'web-4'] : ['web-4', 'web-3'];
    expect(state).toEqual({ 'web-1': 'succeeded', 'web-2': 'succeeded', [failed]: 'failed', [survived]: 'succeeded', 'web-5': 'held', 'web-6': 'held' });
    expect(result.ok).toBe(false);
    const held = result.results.find((r) => r.action.name === 'web-5')!;
    expect(held.heldBy).toBe('web-rollout');
    expect(held.reason).toMatch(new RegExp(`^rollout of policy web-rollout halted at batch 2 of 3: VM/${failed} failed: .*HOST_NOT_ENOUGH_FREE_MEMORY`));
    expect(held.reason).toContain('batch 3 of 3 is held');
    // The apply output: the summary names each held VM and why.
    expect(formatSummary(result)).toMatch(/\n  held {4}update:VM\/web-6: rollout of policy web-rollout halted at batch 2 of 3: /);

    // The pool: batch 1 and the survivor run with the new memory; web-5 and web-6 were never touched.
    const rec = (n: string) => sim.db.byName('VM', n).rec;
    for (const n of ['web-1', 'web-2', survived]) expect([rec(n).power_state, rec(n).memory_static_max]).toEqual(['Running', 2 ** 30]);
    for (const n of ['web-5', 'web-6']) expect([rec(n).power_state, rec(n).memory_static_max]).toEqual(['Running', 512 * 2 ** 20]);

    // What /status shows for them: held by the rollout's policy, with why.
    const { desired } = await loadManifests(dir);
    const outcome = reconcileOutcome(plan, result.results, desired.vms.map((v) => `VM/${v.meta.name}`));
    const states = Object.fromEntries(resourceStates(outcome).map((s) => [s.address, s]));
    expect(states['VM/web-5']).toMatchObject({ state: 'held', reason: expect.stringContaining('web-rollout: rollout of policy web-rollout halted at batch 2 of 3') });
    expect(states[`VM/${failed}`]!.state).toBe('failed');
    expect((outcome.held ?? []).map((h) => [h.address, h.policy])).toEqual([['VM/web-5', 'web-rollout'], ['VM/web-6', 'web-rollout']]);

    // The next plan: the VM that failed is down (halted, to be started again, not paced), and it uses up one of
    // maxUnavailable's two: web-5 and web-6 now go one at a time. The halt holds over reconciles this way.
    const next = await planFolder(client, dir);
    const unavailable = unavailableVMs(next.desired, next.observed);
    expect([...unavailable]).toEqual([[`VM/${failed}`, 'is halted, its manifest wants it running']]);
    const again = applyAutomation(next.plan, next.desired, { now: new Date(), unavailable });
    expect(again.actions.map((a) => [a.name, a.operation, a.rollout?.batch, a.rollout?.batches])).toEqual([
      [failed, 'power', undefined, undefined], ['web-5', 'update', 1, 2], ['web-6', 'update', 2, 2],
    ]);
  });

  it('holds the next batch when a rebooted VM does not stay healthy for healthyAfter', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const names = ['web-1', 'web-2'];
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': names.map((n) => vm(n, '512MiB')).join('---\n') }))).result)).toEqual([]);
    const dir = await folder({ 'vms.yaml': names.map((n) => vm(n, '1GiB')).join('---\n'), 'policy.yaml': policy('{maxUnavailable: "50%", healthyAfter: 5m}') });
    const { plan } = await planFolder(client, dir);
    expect(plan.actions.map((a) => [a.name, a.rollout?.batch, a.rollout?.maxUnavailable])).toEqual([['web-1', 1, 1], ['web-2', 2, 1]]);

    const counter = healthyCounter();
    const apply = applyPlan(plan, client, { repo: REPO, retries: 0, clock: poolClock(sim.clock), listener: { healthy: (a) => counter.mark(a) } });
    await counter.reach(1);
    // Within healthyAfter, web-1 crashes and comes back: its guest metrics are new, so it did not stay healthy.
    const web1 = sim.db.byName('VM', 'web-1').ref;
    await client.call('VM.hard_shutdown', web1);
    await client.call('VM.start', web1, false, false);
    sim.clock.advance(300_000);
    const result = await apply;
    const byName = Object.fromEntries(result.results.map((r) => [r.action.name, r]));
    expect(byName['web-1']).toMatchObject({ state: 'failed', reason: expect.stringContaining('restarted again within healthyAfter (300s)') });
    expect(byName['web-2']).toMatchObject({ state: 'held', heldBy: 'web-rollout' });
    expect(sim.db.byName('VM', 'web-2').rec.memory_static_max).toBe(512 * 2 ** 20);
  });

  it('starts the next batch only once the rebooted VM\'s guest agent reports again', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    const names = ['web-1', 'web-2'];
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': names.map((n) => vm(n, '512MiB')).join('---\n') }))).result)).toEqual([]);
    const { plan } = await planFolder(client, await folder({ 'vms.yaml': names.map((n) => vm(n, '1GiB')).join('---\n'), 'policy.yaml': policy('{maxUnavailable: 1}') }));
    // From now on a booted guest's agent reports only when the test says so.
    sim.guests.agentReports = 'manual';
    /** Resolves once `name` runs again with its new memory (its restart is over), whatever the agent did. */
    const restarted = (name: string) => new Promise<void>((resolve) => {
      const check = () => {
        const rec = sim.db.byName('VM', name).rec;
        if (rec.power_state === 'Running' && rec.memory_static_max === 2 ** 30) {
          stop();
          resolve();
        }
      };
      const stop = sim.db.onChange(check);
      check();
    });
    const started: string[] = [];
    // Apply's health check, once it found the VM not healthy, waits on events for the VM and its guest metrics:
    // seeing that wait is seeing the check parked, with no timer in the test.
    let parked!: () => void;
    const waiting = new Promise<void>((resolve) => (parked = resolve));
    const watched = new Proxy(client, {
      get(target, key) {
        if (key === 'call') {
          return (method: string, ...params: unknown[]) => {
            if (method === 'event.from' && (params[0] as string[]).includes('vm_guest_metrics') && params[1] !== '') parked();
            return target.call(method, ...params);
          };
        }
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const apply = applyPlan(plan, watched, { repo: REPO, retries: 0, clock: poolClock(sim.clock), listener: { started: (a) => started.push(a.name) } });

    await restarted('web-1');
    await waiting;
    // web-1 runs again, but its agent has not reported: it is not healthy, and web-2 waits.
    expect(started).toEqual(['web-1']);
    expect(sim.db.byName('VM', 'web-2').rec.memory_static_max).toBe(512 * 2 ** 20);
    sim.guests.reportAll();
    await restarted('web-2');
    sim.guests.reportAll();
    const result = await apply;
    expect(failures(result)).toEqual([]);
    expect(started).toEqual(['web-1', 'web-2']);
  });

  it('a reboot change whose start fails once is retried to the end: the VM runs again with the change', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const { client, sim } = env;
    expect(failures((await applyFolder(client, await folder({ 'vms.yaml': vm('web-1', '512MiB') }))).result)).toEqual([]);
    sim.faults.inject({ methods: 'VM.start', taskFailure: { count: 1, code: 'HOST_NOT_ENOUGH_FREE_MEMORY', params: ['1073741824', '0'] } });
    // The retry finds the VM halted with its new memory; it must still start it, not leave it down.
    const { result } = await applyFolder(client, await folder({ 'vms.yaml': vm('web-1', '1GiB') }));
    expect(failures(result)).toEqual([]);
    expect(result.results[0]!.attempts).toBe(2);
    expect([sim.db.byName('VM', 'web-1').rec.power_state, sim.db.byName('VM', 'web-1').rec.memory_static_max]).toEqual(['Running', 2 ** 30]);
  });

  it.each([
    { rollout: '{maxUnavailable: "0%"}', error: "spec.automation.rollout.maxUnavailable: '0%' must be a number of VMs (1 or more) or a percentage from 1% to 100%, e.g. 25%" },
    { rollout: '{maxUnavailable: 0}', error: 'spec.automation.rollout.maxUnavailable: 0 is below the minimum 1' },
    { rollout: '{maxUnavailable: 1, healthyAfter: 7h}', error: 'spec.automation.rollout.healthyAfter: healthyAfter must be at most 6h' },
  ])('refuses the rollout $rollout with one error at its field', async ({ rollout, error }) => {
    const { diagnostics } = await loadManifests(await folder({ 'policy.yaml': policy(rollout) }));
    expect(diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.path}: ${d.message}`)).toEqual([error]);
  });
});
