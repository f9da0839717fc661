import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { ReconcileHistory, historyEntry, type HistoryDocument, type HistoryEntry } from '../../src/controller/history.js';
import { createLogger } from '../../src/controller/logger.js';
import type { ReconcileSummary } from '../../src/controller/status.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { GitSource } from '../../src/source/git-source.js';
import { XapiClient } from '../../src/xapi/client.js';
import { GitFixture } from '../source/git-fixture.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const clean of cleanups.splice(0)) clean();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xops-history-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function summary(commit: string, over: Partial<ReconcileSummary> = {}): ReconcileSummary {
  return {
    trigger: ['poll'],
    commit,
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:00:01.500Z',
    durationMs: 1500,
    result: 'success',
    actions: { planned: 2, applied: 2, failed: 0, held: 0 },
    ...over,
  };
}

function entry(commit: string): HistoryEntry {
  return historyEntry(summary(commit), { ok: true });
}

/** Collects the warnings a history reports, the way an operator would read them in the log. */
function warnings(): { logger: { warn(obj: object, msg: string): void }; lines: string[] } {
  const lines: string[] = [];
  return { lines, logger: { warn: (obj, msg) => lines.push(`${msg} ${JSON.stringify(obj)}`) } };
}

describe('reconcile history', () => {
  it('keeps the newest N entries, newest first, and reads them back after a reopen', async () => {
    const file = join(tempDir(), 'h.json');
    const history = await ReconcileHistory.open({ file, limit: 3 });
    for (const c of ['a', 'b', 'c', 'd', 'e']) history.record(entry(c));
    expect(history.document().entries.map((e) => e.commit)).toEqual(['e', 'd', 'c']);
    await history.flush();

    const reopened = await ReconcileHistory.open({ file, limit: 3 });
    expect(reopened.document()).toEqual(history.document());
    // A smaller limit after a restart trims to the newest.
    expect((await ReconcileHistory.open({ file, limit: 2 })).document().entries.map((e) => e.commit)).toEqual(['e', 'd']);
  });

  it('summarises actions by outcome and bounds the error lines', () => {
    const long = 'x'.repeat(2000);
    const e = historyEntry(summary('c1', { result: 'failure', error: '1 action(s) failed', actions: { planned: 3, applied: 1, failed: 1, held: 1 } }), {
      ok: false,
      applied: [
        { id: 'a1', address: 'VM/web', disruption: 'none', ok: true },
        { id: 'a2', address: 'VM/db', disruption: 'reboot', ok: false, error: long },
      ],
      drift: [
        { address: 'Network/n1', paths: ['spec.mtu'], healed: true },
        { address: 'SR/s1', paths: ['spec.tags'], healed: false },
      ],
    });
    expect(e.actions).toEqual({ planned: 3, succeeded: 1, failed: 1, held: 1 });
    expect(e.drift).toEqual({ found: 1, healed: 1 });
    expect(e.errors[0]).toBe('1 action(s) failed');
    expect(e.errors[1].startsWith('VM/db: xxx')).toBe(true);
    expect(e.errors[1].length).toBe(500);
  });

  it('writes atomically: only the history file is left, and it is complete JSON after every write', async () => {
    const dir = tempDir();
    const file = join(dir, 'nested', 'h.json');
    const history = await ReconcileHistory.open({ file, limit: 50 });
    for (let i = 0; i < 20; i++) history.record(entry(`c${i}`));
    await history.flush();
    expect(readdirSync(join(dir, 'nested'))).toEqual(['h.json']);
    const body = JSON.parse(readFileSync(file, 'utf8')) as { version: number; entries: HistoryEntry[] };
    expect(body.version).toBe(1);
    expect(body.entries.map((e) => e.commit)).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`));
  });

  it.each([
    ['not JSON', '{"version":1,"entries":[{"commit":'],
    ['another format', '{"version":7,"entries":[]}'],
    ['a JSON array', '[1,2,3]'],
  ])('a corrupt file (%s) is reported, treated as empty and replaced by the next write', async (_why, content) => {
    const file = join(tempDir(), 'h.json');
    writeFileSync(file, content);
    const { logger, lines } = warnings();
    const history = await ReconcileHistory.open({ file, logger });
    expect(history.document().entries).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('the file is unreadable');
    expect(lines[0]).toContain(file);
    history.record(entry('after'));
    await history.flush();
    expect((await ReconcileHistory.open({ file })).document().entries.map((e) => e.commit)).toEqual(['after']);
  });

  it('drops malformed entries but keeps the good ones', async () => {
    const file = join(tempDir(), 'h.json');
    writeFileSync(file, JSON.stringify({ version: 1, entries: [entry('good'), { commit: 5 }, null] }));
    const { logger, lines } = warnings();
    const history = await ReconcileHistory.open({ file, logger });
    expect(history.document().entries.map((e) => e.commit)).toEqual(['good']);
    expect(lines[0]).toContain('"dropped":2');
  });

  it('a write that cannot happen is logged and never throws', async () => {
    const dir = tempDir();
    // The history file's folder is a regular file: mkdir fails on every write.
    writeFileSync(join(dir, 'blocker'), '');
    const { logger, lines } = warnings();
    const history = await ReconcileHistory.open({ file: join(dir, 'blocker', 'h.json'), logger });
    history.record(entry('x'));
    await history.flush();
    history.record(entry('y'));
    await history.flush();
    expect(history.document().entries.map((e) => e.commit)).toEqual(['y', 'x']);
    // Reported once, not on every reconcile.
    expect(lines.filter((l) => l.includes('could not write the file'))).toHaveLength(1);
  });
});

describe('history across a controller restart (simulator + git repo)', () => {
  let sim: Simulator;
  let client: XapiClient;
  const running: RunningController[] = [];
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 'demo' });
    client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
  });
  // Stopped before the outer afterEach removes their folders: a running controller still fetches into its cache.
  afterEach(async () => {
    for (const c of running.splice(0)) await c.stop();
  });
  afterAll(async () => {
    await client?.close();
    await sim?.stop();
  });

  async function start(f: GitFixture, historyFile: string): Promise<RunningController> {
    const c = await startController({
      source: new GitSource({ url: f.remote, branch: 'main', cacheRoot: f.cacheRoot }),
      caller: client,
      root: '.',
      listen: { host: '127.0.0.1', port: 0 },
      outputs: { historyFile },
      logger: createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) }),
    });
    running.push(c);
    return c;
  }

  it('serves /history and still has the earlier reconciles after the controller restarts on the same cache folder', async () => {
    const f = new GitFixture();
    cleanups.push(() => f.cleanup());
    f.write({ 'net.yaml': 'apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: backend\nspec:\n  mtu: 1500\n' });
    const commit = f.commit('network');
    const historyFile = join(f.cacheRoot, 'history.json');

    const first = await start(f, historyFile);
    await first.loop.idle();
    const before = (await (await fetch(`${first.url}/history`)).json()) as HistoryDocument;
    expect(before.entries).toHaveLength(1);
    expect(before.entries[0]).toMatchObject({ commit, trigger: ['startup'], result: 'success', actions: { planned: 1, succeeded: 1, failed: 0, held: 0 }, errors: [] });
    await first.stop();
    running.splice(running.indexOf(first), 1);

    const second = await start(f, historyFile);
    await second.loop.idle();
    const after = (await (await fetch(`${second.url}/history`)).json()) as HistoryDocument;
    expect(after.entries).toHaveLength(2);
    // Newest first: the second start's reconcile (nothing left to do), then the first one, as it was.
    expect(after.entries[0]).toMatchObject({ commit, result: 'success', actions: { planned: 0, succeeded: 0 } });
    expect(after.entries[1]).toEqual(before.entries[0]);
  });
});
