/**
 * The fast subset of the fault matrix (`npm run soak` runs every fault; see bench/fault-matrix.ts): a
 * controller applying a commit is hit, at its fifth action, by a garbage reply to a call that ran, and by
 * failing tasks. Once the fault is used up and cleared, the pool converges: a plan has nothing to do
 * (`xops plan --detailed-exitcode` exits 0, checked on the first), nothing is duplicated or left under a
 * pending name, the seed's unmanaged VMs are untouched, and the SMB SR's secret is in no log, /status,
 * /metrics or plan output. A smaller commit than the soak's, and no follow-up commit, keep it quick.
 */
import { describe, expect, it } from 'vitest';
import { FAULT_CASES, runFaultCase } from '../../bench/fault-matrix.js';

/** Each fault, and whether its check ends with the CLI's plan (once is enough to keep that path covered). */
const SUBSET: [string, boolean][] = [['garbage reply after the call ran', true], ['failing tasks', false]];

describe('fault matrix, fast subset', () => {
  it.each(SUBSET)('the pool converges after: %s', async (name, cliPlan) => {
    const c = FAULT_CASES.find((f) => f.name === name)!;
    const result = await runFaultCase(c, { networks: 6, vms: 1, limitMs: 30_000, cliPlan, followUp: false });
    expect(result.problems).toEqual([]);
    expect(result.convergeMs.first).toBeDefined();
  }, 60_000);
});
