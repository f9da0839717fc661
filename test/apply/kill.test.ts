import { describe, expect, it } from 'vitest';
import { soak } from '../../bench/soak.js';

// Runs `node dist/src/cli.js apply` as a child process: `npm test` builds dist first.
describe('kill test (a light version of npm run soak)', () => {
  it('SIGKILLed applies, under injected faults, converge with no duplicate, pending or orphaned object', async () => {
    const report = await soak({
      dir: 'examples',
      kills: 3,
      seed: 20260101,
      latencyMs: 10,
      minKillMs: 1100,
      maxKillMs: 3000,
      faults: [
        { connectionReset: { count: 2, writesOnly: true, afterExecute: true } },
        { taskFailure: { count: 2 } },
        { sessionInvalid: 2 },
      ],
    });
    expect(report.problems).toEqual([]);
    expect(report.killed).toBe(3);
    // The kills must have interrupted real work, or the test proves nothing.
    expect(report.killedMidApply).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
