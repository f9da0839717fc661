import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { DesiredState } from '../../src/model/desired.js';
import type { ObservedState } from '../../src/model/observed.js';
import type { Plan } from '../../src/model/plan.js';
import { loadManifests, liveInventoryFrom } from '../../src/manifests/index.js';
import { takeSnapshot } from '../../src/observe/snapshot.js';
import { planChanges } from '../../src/plan/index.js';
import { applyAutomation } from '../../src/policy/index.js';
import { applyPlan, type ApplyOptions, type ApplyResult } from '../../src/apply/executor.js';
import { startSimulator, type SimOptions, type Simulator } from '../../src/sim/index.js';
import { XapiClient } from '../../src/xapi/client.js';
import { processSecretSource } from '../../src/secrets/index.js';

export const REPO = 'test-repo';

/** A simulator and a logged-in client; `stop` tears both down. */
export async function simWithClient(opts: SimOptions = {}): Promise<{ sim: Simulator; client: XapiClient; stop(): Promise<void> }> {
  const sim = await startSimulator({ port: 0, multiHost: false, ...opts });
  const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
  return {
    sim,
    client,
    async stop() {
      await client.close();
      await sim.stop();
    },
  };
}

/** Loads a manifests folder and plans it against the pool, as `xops plan` does. */
export async function planFolder(client: XapiClient, dir: string, opts: { prune?: boolean } = {}): Promise<{ plan: Plan; desired: DesiredState; observed: ObservedState }> {
  const observed = await takeSnapshot(client);
  const { desired, diagnostics } = await loadManifests(dir, { live: liveInventoryFrom(observed) });
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`manifests invalid: ${errors.map((d) => d.message).join('; ')}`);
  let plan = planChanges(desired, observed, { repo: REPO, prune: opts.prune });
  plan = applyAutomation(plan, desired, { now: new Date() });
  return { plan: plan, desired, observed };
}

/** Plans and applies a folder; destructive actions allowed unless told otherwise. */
export async function applyFolder(client: XapiClient, dir: string, opts: Partial<ApplyOptions> & { prune?: boolean } = {}): Promise<{ plan: Plan; result: ApplyResult }> {
  const { plan } = await planFolder(client, dir, { prune: opts.prune });
  const result = await applyPlan(plan, client, {
    repo: REPO,
    secrets: processSecretSource(dir),
    destructiveAllowed: () => true,
    retryDelayMs: 20,
    ...opts,
  });
  return { plan, result };
}

/** One line per action that did not succeed, for assertion messages. */
export function failures(result: ApplyResult): string[] {
  return result.results.filter((r) => r.state !== 'succeeded').map((r) => `${r.action.id}: ${r.state}: ${r.reason ?? ''}`);
}

/**
 * Cleanups a test registers (run in reverse after each test), and `folder(files)`: a temp folder of
 * manifests named `prefix…`, removed with them.
 */
export function scratch(prefix: string): { cleanup: (() => Promise<void>)[]; folder(files: Record<string, string>): Promise<string> } {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  return {
    cleanup,
    async folder(files) {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
      return dir;
    },
  };
}
