/**
 * Ctrl-C during `xops apply`: no further action starts, the ones in flight finish, the summary
 * says what was done and what was not, exit 130; running the same apply again converges, which
 * it could not if an object had been left created without xops' marks (it would be a conflict).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { cleanEnv, finished, startXops, xops } from './helpers.js';

let sim: Simulator;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  env = cleanEnv({ XOPS_XAPI_URL: sim.url, XOPS_XAPI_USER: 'root', XOPS_XAPI_PASSWORD: 'xops', NO_COLOR: '1' });
});
afterAll(async () => {
  await sim?.stop();
});

describe('xops apply, interrupted', () => {
  it('finishes what is in flight, says what was and was not done, exits 130; the next apply converges', async () => {
    // Slow calls, so that the first actions are still in flight when the signal arrives and the
    // VMs (which wait for the networks and SRs) have not started.
    sim.faults.latency(150);
    const apply = startXops(['apply', 'examples', '--yes', '--log-format', 'json'], { env });
    await apply.waitFor('stderr', /"msg":"action started"/);
    apply.process.kill('SIGINT');
    const result = await finished(apply.process);
    sim.faults.clear();

    expect(result.code).toBe(130);
    expect(result.stderr).toContain('xops: interrupted: starting nothing more, finishing the actions in flight\n');
    const last = result.stderr.trimEnd().split('\n').at(-1)!;
    const m = /^xops: apply interrupted: (\d+) action\(s\) done, (\d+) not started; run the same apply again to finish \(exit 130\)$/.exec(last);
    expect(m, last).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(0);
    // The examples plan 14 actions (13 creates, the pool update).
    expect(Number(m![1]) + Number(m![2]), result.stdout).toBe(14);
    expect(result.stdout).toMatch(/^Apply finished with problems: \d+ succeeded, 0 failed, \d+ skipped, 0 held/m);

    const again = await xops(['apply', 'examples', '--yes', '--log-format', 'json'], { env });
    expect(again.stderr).not.toContain('unmanaged');
    expect(again.code).toBe(0);
    // Only what the interrupted run did not do is left: it made nothing twice and nothing unmarked.
    expect(again.stdout).toMatch(new RegExp(`^Apply complete: ${m![2]} succeeded, 0 failed, 0 skipped, 0 held`, 'm'));
  });
});
