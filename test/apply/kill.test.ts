import { describe, expect, it } from 'vitest';
import { killPoints } from '../../bench/kill-points.js';

/**
 * `xops apply` (a real child process) is SIGKILLed right after an exact write of a VM create (two
 * disks, two VIFs): the simulator freezes after its nth write (FaultSpec.freezeAfter), so where the
 * kill lands never depends on timing. Each case then re-runs apply and plan --detailed-exitcode and
 * checks the pool: exactly the declared disks and VIFs and the cloud-init drive, nothing pending, no
 * duplicate, unmanaged VMs untouched. `npm run soak` runs every kill point (plain and under faults); this runs four
 * after which a half-made object exists: three plain, one under injected faults. `npm test` builds dist first.
 */
const after = (method: string, nth = 1) => (writes: readonly string[]) => {
  let seen = 0;
  const i = writes.findIndex((m) => m === method && ++seen === nth);
  if (i < 0) throw new Error(`no write ${method} #${nth} in: ${writes.join(' ')}`);
  return i + 1;
};

describe('kill test: SIGKILL between two writes of a VM create', () => {
  it('converges after a kill right after the clone, the provisioned disk\'s mark, and the config drive\'s key removal', async () => {
    // The third: the drive's key goes from pending to the digest by a remove then an add; a kill
    // between the two left a second drive before findDrive knew a keyless one (npm run soak found it).
    const report = await killPoints({ points: (w) => [after('Async.VM.clone')(w), after('VDI.set_other_config')(w), after('VDI.remove_from_other_config')(w)] });
    expect(report.problems).toEqual([]);
    expect(report.cases).toBe(3);
  }, 180_000);

  it('converges under injected faults (connection reset after a write executed, task failure, SESSION_INVALID)', async () => {
    const report = await killPoints({
      points: (w) => [after('Async.VDI.create')(w)],
      faults: [
        { connectionReset: { count: 2, writesOnly: true, afterExecute: true } },
        { taskFailure: { count: 1 } },
        { sessionInvalid: 2 },
      ],
      // The same plan checked in-process: one child process less per case keeps npm test fast.
      cliPlan: false,
    });
    expect(report.problems).toEqual([]);
    expect(report.cases).toBe(1);
  }, 120_000);
});
