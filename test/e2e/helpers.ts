import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { startController, type ControllerOptions, type RunningController } from '../../src/controller/controller.js';
import { createLogger } from '../../src/controller/logger.js';
import type { ControllerStatus } from '../../src/controller/status.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import type { ManifestSource } from '../../src/source/types.js';
import { XapiClient } from '../../src/xapi/client.js';

/** One simulator and two clients per test file: one for the controller, one playing "someone else". */
export interface World {
  sim: Simulator;
  /** The controller's connection. */
  client: XapiClient;
  /** Another XAPI client, for out-of-band changes and for looking at the pool. */
  other: XapiClient;
  controllers: RunningController[];
  cleanups: (() => void)[];
}

export async function startWorld(): Promise<World> {
  const sim = await startSimulator({ port: 0, seed: 'demo' });
  // The pool's host addresses: these clients never read host records, yet must follow a failover.
  const knownHosts = sim.hostUrls.map((u) => new URL(u).hostname);
  const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', knownHosts });
  const other = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops', knownHosts });
  return { sim, client, other, controllers: [], cleanups: [] };
}

export async function stopWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  await resetWorld(w);
  await w.client.close();
  await w.other.close();
  await w.sim.stop();
}

/** Stops the test's controllers (releasing the lease) and removes its temp folders. */
export async function resetWorld(w: World): Promise<void> {
  for (const c of w.controllers.splice(0)) await c.stop();
  for (const clean of w.cleanups.splice(0)) clean();
  w.sim.faults.clear();
}

/**
 * Debounce for local-folder sources in tests. Above chokidar's 50 ms throttle of repeated `change`
 * events on one file (dropped, not deferred): a sync that runs sooner could miss a second save.
 */
export const LOCAL_DEBOUNCE_MS = 60;

const quiet = () => createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) });

/** A controller with test-sized timings: short backoff, quick event debounce, no periodic triggers. */
export async function startTestController(w: World, source: ManifestSource, extra: Partial<ControllerOptions> = {}): Promise<RunningController> {
  const controller = await startController({
    source,
    caller: w.client,
    root: '.',
    listen: { host: '127.0.0.1', port: 0 },
    backoff: { initialMs: 50, maxMs: 300 },
    eventDebounceMs: 20,
    applyRetryDelayMs: 20,
    pollIntervalMs: 0,
    resyncIntervalMs: 0,
    logger: quiet(),
    ...extra,
  });
  w.controllers.push(controller);
  return controller;
}

/** A temp folder of manifests, removed after the test. */
export function manifestFolder(w: World, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'xops-e2e-'));
  w.cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFiles(dir, files);
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

export async function status(c: RunningController): Promise<ControllerStatus> {
  return (await fetch(`${c.url}/status`)).json() as Promise<ControllerStatus>;
}

export async function metrics(c: RunningController): Promise<string> {
  return (await fetch(`${c.url}/metrics`)).text();
}

/** Polls `probe` until `ok` holds; fails with the last value seen. */
export async function until<T>(what: string, probe: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 8000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)?.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs one more reconcile now (as a resync would) and waits for it to finish. */
export async function reconcileNow(c: RunningController): Promise<ControllerStatus> {
  await c.loop.idle();
  const before = c.status.snapshot().lastReconcile?.finishedAt;
  c.loop.request('resync');
  await until('a reconcile', () => c.status.snapshot().lastReconcile?.finishedAt, (f) => f !== before);
  await c.loop.idle();
  return c.status.snapshot();
}

/** A VM as the pool has it (plain VMs only, not snapshots or templates), by name. */
export async function vmRecord(w: World, name: string): Promise<{ ref: string; rec: Record<string, unknown> } | undefined> {
  const refs = await w.other.call<string[]>('VM.get_by_name_label', name);
  for (const ref of refs) {
    const rec = await w.other.call<Record<string, unknown>>('VM.get_record', ref);
    if (rec['is_a_snapshot'] !== true && rec['is_a_template'] !== true) return { ref, rec };
  }
  return undefined;
}

/** Names of the VM's snapshots. */
export async function snapshotsOf(w: World, name: string): Promise<string[]> {
  const vm = await vmRecord(w, name);
  if (!vm) return [];
  const names: string[] = [];
  for (const ref of vm.rec['snapshots'] as string[]) names.push(await w.other.call<string>('VM.get_name_label', ref));
  return names;
}

const GiB = 1024 ** 3;
export { GiB };

/** A small VM manifest; `extra` lines go under spec, `meta` lines under metadata. */
export function vmManifest(name: string, opts: { memory?: string; description?: string; powerState?: string; disks?: string[]; networks?: string[]; annotations?: Record<string, string> } = {}): string {
  const disks = opts.disks ?? [];
  const annotations = Object.entries(opts.annotations ?? {});
  return [
    'apiVersion: xops/v1',
    'kind: VM',
    'metadata:',
    `  name: ${name}`,
    ...(annotations.length ? ['  annotations:', ...annotations.map(([k, v]) => `    ${k}: "${v}"`)] : []),
    'spec:',
    `  description: ${opts.description ?? 'managed by the e2e test'}`,
    '  template: Debian Bookworm 12',
    '  vcpus: 1',
    `  memory: ${opts.memory ?? '1GiB'}`,
    `  powerState: ${opts.powerState ?? 'running'}`,
    ...(disks.length ? ['  disks:', ...disks.map((d) => `    - {name: ${d}, size: 1GiB}`)] : []),
    ...(opts.networks?.length ? ['  networks:', ...opts.networks.map((n) => `    - network: ${n}`)] : []),
    '',
  ].join('\n');
}

/** A Policy manifest whose automation block is given as YAML lines (indented under `automation:`). */
export function policyManifest(name: string, automation: string[]): string {
  return ['apiVersion: xops/v1', 'kind: Policy', 'metadata:', `  name: ${name}`, 'spec:', '  automation:', ...automation.map((l) => `    ${l}`), ''].join('\n');
}
