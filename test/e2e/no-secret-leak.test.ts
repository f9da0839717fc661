/**
 * No SR credential in anything xops shows: `xops run` applies an SMB and an iSCSI SR whose secrets come from
 * the environment, logging at trace level (every XAPI call it makes), then `xops plan` (Markdown, and the JSON
 * plan it saves) and `xops apply` of that plan (which prints it as text) run after the values changed. Every log line, /status, /metrics, /history, every plan and
 * apply output and the simulator's call counts are searched for each value; the values live only in the
 * pool's `secret` objects.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { cleanEnv, finished, startXops, xops } from '../cli/helpers.js';
import { until } from './helpers.js';

const FIRST = { smb: 'SmbFirst-7f3a9c', chap: 'ChapFirst-2b8d1e' };
const SECOND = { smb: 'SmbSecond-91c4aa', chap: 'ChapSecond-5e0f77' };
const VALUES = [...Object.values(FIRST), ...Object.values(SECOND)];

let sim: Simulator;
const work = mkdtempSync(join(tmpdir(), 'xops-e2e-leak-'));
const repo = join(work, 'manifests');

const SRS = `apiVersion: xops/v1
kind: SR
metadata: {name: leak-smb}
spec:
  type: smb
  shared: true
  deviceConfig:
    server: //nas/leak
    username: svc
    password: {secretRef: {env: XOPS_SECRET_LEAK_SMB}}
---
apiVersion: xops/v1
kind: SR
metadata: {name: leak-iscsi}
spec:
  type: lvmoiscsi
  shared: true
  deviceConfig:
    target: 10.0.0.9
    targetIQN: iqn.2026-01.test:leak
    SCSIid: 36001405leak
    chapuser: xcp
    chappassword: {secretRef: {env: XOPS_SECRET_LEAK_CHAP}}
`;

const env = (v: typeof FIRST) => cleanEnv({ XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', XOPS_SECRET_LEAK_SMB: v.smb, XOPS_SECRET_LEAK_CHAP: v.chap });

/** Every secret value found in `text`, by name, so a failure says which output leaked which value. */
function leaks(outputs: Record<string, string>): string[] {
  return Object.entries(outputs).flatMap(([name, text]) => VALUES.filter((v) => text.includes(v)).map((v) => `${name} contains ${v}`));
}

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  mkdirSync(repo, { recursive: true });
  writeFileSync(join(repo, 'srs.yaml'), SRS);
});
afterAll(async () => {
  await sim?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('SR credentials in outputs', () => {
  it('appear in no log, endpoint, plan, apply output or call count, before or after a change', async () => {
    const outputs: Record<string, string> = {};
    const controller = startXops(
      ['run', '--repo', repo, '--xapi', sim.url, '--listen', '127.0.0.1:0', '--log-format', 'json', '--log-level', 'trace', '--cache-dir', join(work, 'cache')],
      { env: env(FIRST) },
    );
    try {
      const url = (JSON.parse(await controller.waitFor('stdout', /"controller listening"/)) as { url: string }).url;
      type Status = { resources?: { address: string; state: string }[] };
      const synced = (s: Status) => ['SR/leak-smb', 'SR/leak-iscsi'].every((a) => s.resources?.some((r) => r.address === a && r.state === 'synced'));
      await until('both SRs synced', async () => (await (await fetch(`${url}/status`)).json()) as Status, synced, 20_000);
      for (const path of ['/status', '/metrics', '/history', '/healthz', '/readyz']) outputs[path] = await (await fetch(`${url}${path}`)).text();
    } finally {
      controller.process.kill('SIGTERM');
    }
    const run = await finished(controller.process);
    outputs['xops run stdout'] = run.stdout;
    outputs['xops run stderr'] = run.stderr;
    // The trace log is the call log: it must have seen the calls that carried the values.
    expect(run.stdout).toMatch(/"method":"secret\.create"/);

    const flags = ['--xapi', sim.url];
    // Markdown on stdout and the JSON plan in a file from one run; apply prints the text plan, then applies it.
    const saved = join(work, 'plan.json');
    const planned = await xops(['plan', repo, ...flags, '--out', 'markdown', '--save', saved], { env: env(SECOND) });
    expect(planned.stdout).toContain('credential changed');
    const applied = await xops(['apply', '--plan', saved, ...flags, '--yes'], { env: env(SECOND) });
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('credential changed');
    const after = await xops(['plan', repo, ...flags, '--detailed-exitcode'], { env: env(SECOND) });
    expect(after.code).toBe(0);
    outputs['saved plan'] = readFileSync(saved, 'utf8');
    for (const [name, r] of Object.entries({ 'plan markdown': planned, apply: applied, 'plan after': after })) {
      outputs[`${name} stdout`] = r.stdout;
      outputs[`${name} stderr`] = r.stderr;
    }
    outputs['simulator call counts'] = JSON.stringify(sim.stats.get());
    // Everything in the pool but the secrets' own value fields.
    for (const cls of ['SR', 'PBD', 'pool', 'host', 'message', 'task']) outputs[`pool ${cls} records`] = JSON.stringify([...sim.db.all(cls)].map((o) => o.rec));
    outputs['pool secret marks'] = JSON.stringify([...sim.db.all('secret')].map((o) => o.rec.other_config));

    expect(leaks(outputs)).toEqual([]);
    // The values did reach the pool, only as secrets.
    const values = [...sim.db.all('secret')].map((o) => o.rec.value);
    expect(values).toEqual(expect.arrayContaining(Object.values(SECOND)));
  }, 60_000);
});
