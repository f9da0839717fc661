/**
 * The controller keeps each VM's planning between plans (src/plan/memo.ts) so that a request or a
 * reconcile plans again only what changed. That must never change a plan: here every plan made
 * with the memo is compared, whole, with the plan a fresh planner makes of the same manifests
 * against the same pool state, through a series of changes a controller sees: an apply, nothing
 * changed, one VM edited, a Policy edited and reverted, drift behind xops' back, a manifest
 * removed, VMs that reserve capacity before and after replayed ones.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/executor.js';
import { defaultConfig } from '../../src/config/index.js';
import { liveInventoryFrom, readManifestFolder } from '../../src/manifests/index.js';
import { ManifestCache } from '../../src/manifests/parse-cache.js';
import type { ObservedState } from '../../src/model/observed.js';
import type { Plan } from '../../src/model/plan.js';
import { PoolObserver } from '../../src/observe/index.js';
import { PlanMemo } from '../../src/plan/memo.js';
import { gatedPlan } from '../../src/plan/pipeline.js';
import { checkAdmission } from '../../src/policy/index.js';
import { processSecretSource } from '../../src/secrets/index.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { XapiClient } from '../../src/xapi/client.js';

const REPO = 'memo-test';
const NOW = new Date('2026-12-01T12:00:00Z');
const GENERATED = 12;

let sim: Simulator;
let client: XapiClient;
let observer: PoolObserver;
let dir: string;
const cache = new ManifestCache();
const memo = new PlanMemo();
const config = defaultConfig();
const limits = { ...config.limits, adopt: true, prune: true, destructive: true };

function vmManifest(i: number, opts: { memory?: string; power?: string } = {}): string {
  const name = `gen-${String(i).padStart(2, '0')}`;
  return `apiVersion: xops/v1
kind: VM
metadata:
  name: ${name}
  labels: { owner: test, tier: gen }
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: ${opts.memory ?? '512MiB'}
  disks:
    - name: root
      size: 4GiB
  networks:
    - network: prod-vlan100
  powerState: ${opts.power ?? (i % 3 === 0 ? 'running' : 'halted')}
`;
}

async function current(): Promise<ObservedState> {
  await observer.barrier();
  return observer.current();
}

/** The plan with the memo, after checking it equals a fresh plan of the same manifests and state. */
async function planBoth(): Promise<Plan> {
  const observed = await current();
  const { files } = await readManifestFolder(dir);
  const { desired, diagnostics } = cache.load(files, dir, { live: liveInventoryFrom(observed) });
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const opts = { now: NOW, repo: REPO, limits, protected: config.protected };
  const checked = [...diagnostics, ...checkAdmission(desired)];
  const fresh = gatedPlan(desired, observed, checked, opts);
  const kept = gatedPlan(desired, observed, checked, { ...opts, memo });
  expect(kept).toEqual(fresh);
  // Twice: the second is all replay where the first kept anything.
  expect(gatedPlan(desired, observed, checked, { ...opts, memo })).toEqual(fresh);
  // A plan only shown (no observed.objects) replays less, and leaves the entries whole for the next.
  expect(gatedPlan(desired, observed, checked, { ...opts, memo, objects: false })).toEqual({ ...fresh, observed: { token: fresh.observed.token, objects: {} } });
  return kept;
}

async function apply(plan: Plan): Promise<void> {
  const result = await applyPlan(plan, client, { repo: REPO, secrets: processSecretSource(dir), destructiveAllowed: () => true, retryDelayMs: 20 });
  expect(result.results.filter((r) => r.state !== 'succeeded' && r.state !== 'held').map((r) => `${r.action.id}: ${r.reason}`)).toEqual([]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xops-memo-'));
  await cp(join(import.meta.dirname, '../../examples'), dir, { recursive: true });
  // Disks without an SR go to the pool's own default SR: VM plans then read the pool record.
  const pool = join(dir, 'pool.yaml');
  await writeFile(pool, (await readFile(pool, 'utf8')).replace(/^ *defaultSR:.*\n/m, ''));
  for (let i = 0; i < GENERATED; i++) await writeFile(join(dir, 'vms', `gen-${i}.yaml`), vmManifest(i));
  sim = await startSimulator({ port: 0, seed: 'demo' });
  client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
  observer = new PoolObserver(client, { pollSeconds: 5 });
  await observer.start();
});

afterAll(async () => {
  await observer.stop();
  await client.close();
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a plan made with the per-VM memo', () => {
  it('equals a fresh plan through a controller\'s life, and replays what did not change', async () => {
    const first = await planBoth();
    expect(first.actions.filter((a) => a.kind === 'VM' && a.operation === 'create').length).toBeGreaterThanOrEqual(GENERATED);
    await apply(first);

    // In sync, then the same again: the VMs are replayed, not planned.
    const synced = await planBoth();
    expect(synced.actions.filter((a) => a.kind === 'VM')).toEqual([]);
    const before = memo.stats.replayed;
    await planBoth();
    expect(memo.stats.replayed - before).toBeGreaterThanOrEqual(2 * 2 * GENERATED);

    // A controller renewing its lease in the pool's other_config changes nothing a VM's plan reads.
    const pool = [...sim.db.all('pool')][0]!;
    sim.db.mutate(pool.ref, 'other_config', (oc: Record<string, string>) => { oc['xops.lease'] = 'other|2026-12-01T00:00:00Z|2026-12-01T00:00:10Z'; });
    const leased = memo.stats.replayed;
    expect((await planBoth()).actions).toEqual(synced.actions);
    // Every VM's two phases in the three memo plans.
    const perPlan = (memo.stats.replayed - leased) / 6;
    expect(perPlan).toBeGreaterThanOrEqual(GENERATED);
    // A change there that plans read (the default SR) is a new state.
    const defaultSR = pool.rec.default_SR;
    sim.db.set(pool.ref, 'default_SR', 'OpaqueRef:NULL');
    const noDefault = memo.stats.planned;
    await planBoth();
    // Each VM with a disk on the default SR is planned again (once: the second plan replays it).
    expect(memo.stats.planned - noDefault).toBeGreaterThanOrEqual(GENERATED);
    expect(memo.stats.planned - noDefault).toBeLessThan(2 * perPlan);
    sim.db.set(pool.ref, 'default_SR', defaultSR);

    // One VM edited: a live memory change for it, the others replayed.
    await writeFile(join(dir, 'vms', 'gen-4.yaml'), vmManifest(4, { memory: '768MiB' }));
    const edited = await planBoth();
    expect(edited.actions.filter((a) => a.kind === 'VM').map((a) => a.address)).toEqual(['VM/gen-04']);

    // A Policy edited (every VM is under a new guard), then reverted (the old entries answer again).
    const policy = join(dir, 'policies', 'production.yaml');
    const policyText = await readFile(policy, 'utf8');
    await writeFile(policy, policyText.replace('maxSize: 64GiB', 'maxSize: 600MiB'));
    const strict = await planBoth();
    expect(strict.diagnostics.some((d) => d.code === 'admission' && d.address === 'VM/gen-04')).toBe(true);
    await writeFile(policy, policyText);
    const reverted = memo.stats.replayed;
    expect(await planBoth()).toEqual(edited);
    expect(memo.stats.replayed).toBeGreaterThan(reverted);

    // Another object changing (a VM xops does not manage) changes no VM's answers: they are carried
    // to the new state without asking their questions again (state-changes.ts), and replayed. No
    // name changed, so the live inventory is the same one, and so is every loaded VM: none is planned.

    const legacy = [...sim.db.all('VM')].find((v) => v.rec.name_label === 'legacy-web01')!;
    const quiet = { ...memo.stats };
    sim.db.set(legacy.ref, 'name_description', 'touched by someone');
    await planBoth();
    expect(memo.stats.planned - quiet.planned).toBe(0);
    expect(memo.stats.unaffected - quiet.unaffected).toBeGreaterThanOrEqual(2 * GENERATED);

    // Drift behind xops' back on a replayed VM: it is planned again (its owner and its plan). A
    // name changed, so the live inventory is a new one: the VMs whose build the loader does not keep
    // (appliance members, cloud-init files: the example repository's) are built and planned afresh too.
    const gen7 = [...sim.db.all('VM')].find((v) => v.rec.name_label === 'gen-07')!;
    const plannedBefore = memo.stats.planned;
    sim.db.set(gen7.ref, 'name_label', 'renamed by hand');
    const drifted = await planBoth();
    expect(drifted.actions.some((a) => a.address === 'VM/gen-07')).toBe(true);
    expect(memo.stats.planned - plannedBefore).toBeGreaterThanOrEqual(2);
    expect(memo.stats.planned - plannedBefore).toBeLessThan(2 + 2 * (perPlan - GENERATED) + 1);

    // A manifest removed: what prune would do (the examples' Policy keeps it off) is as a fresh planner says.
    await rm(join(dir, 'vms', 'gen-10.yaml'));
    const pruned = await planBoth();
    expect(pruned.diagnostics.some((d) => d.code === 'would-prune' && d.address === 'VM/gen-10')).toBe(true);

    // Starts reserve capacity in manifest order, around replayed VMs: a halted VM started, and new
    // running VMs, one too large for any host, after it.
    await writeFile(join(dir, 'vms', 'gen-1.yaml'), vmManifest(1, { power: 'running' }));
    await writeFile(join(dir, 'vms', 'gen-90.yaml'), vmManifest(90, { power: 'running', memory: '4GiB' }));
    await writeFile(join(dir, 'vms', 'gen-91.yaml'), vmManifest(91, { power: 'running', memory: '60GiB' }));
    const starts = await planBoth();
    expect(starts.actions.some((a) => a.address === 'VM/gen-01')).toBe(true);
    expect(starts.actions.some((a) => a.address === 'VM/gen-90' && a.operation === 'create')).toBe(true);
    expect(starts.refused.some((r) => r.address === 'VM/gen-91')).toBe(true);
    await apply(starts);
    await planBoth();
  });

  it('is not used for a state that is not sealed (a one-off snapshot may be changed in place)', async () => {
    const sealed = await current();
    const unsealed = { ...sealed, records: Object.fromEntries(Object.entries(sealed.records).map(([k, m]) => [k, new Map(m)])) } as ObservedState;
    const { files } = await readManifestFolder(dir);
    const { desired, diagnostics } = cache.load(files, dir, { live: liveInventoryFrom(unsealed) });
    const before = { ...memo.stats };
    gatedPlan(desired, unsealed, diagnostics, { now: NOW, repo: REPO, limits, memo });
    expect(memo.stats).toEqual(before);
  });

  it('plans two manifests with one address as a fresh planner does, each planned after the other', async () => {
    // The loader refuses such a set; a state built by hand (library use) can still hold one, and a
    // kept plan's answer about its own ownership must then not be taken from its position.
    const observed = await current();
    const { files } = await readManifestFolder(dir);
    const { desired } = cache.load(files, dir, { live: liveInventoryFrom(observed) });
    const twin = desired.vms.find((v) => v.meta.name === 'gen-05')!;
    const doubled = { ...desired, vms: [...desired.vms, { ...twin, spec: { ...twin.spec, vcpus: twin.spec.vcpus + 1 } }] };
    const opts = { now: NOW, repo: REPO, limits, protected: config.protected };
    const fresh = gatedPlan(doubled, observed, [], opts);
    expect(gatedPlan(doubled, observed, [], { ...opts, memo })).toEqual(fresh);
    expect(gatedPlan(doubled, observed, [], { ...opts, memo })).toEqual(fresh);
    // And the set without the twin again, from the same memo.
    expect(gatedPlan(desired, observed, [], { ...opts, memo })).toEqual(gatedPlan(desired, observed, [], opts));
  });
});
