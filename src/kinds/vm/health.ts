/**
 * A rebooted VM's health, for rollouts: it runs, its guest agent reports again (a live VM_guest_metrics
 * record: XAPI drops the record when the domain goes down, so one present after the restart is fresh),
 * and, when the VM declares `readiness.waitForIP`, an address in that range. Waits on events for the VM
 * and the guest metrics, never on a polling timer; `healthyAfter` is a sleep on the apply clock.
 */
import type { Action } from '../../model/plan.js';
import type { Ref } from '../../model/observed.js';
import { NULL_REF } from '../../model/observed.js';
import type { ApplyContext, HealthWait } from '../../apply/context.js';
import { maybeDesiredSpec } from '../../apply/applier.js';
import { UnhealthyError } from '../../apply/errors.js';
import type { XapiCaller } from '../../xapi/caller.js';
import { eventTimeout } from '../../xapi/task-watcher.js';
import { inRange, reportedAddresses } from './readiness.js';
import { DEFAULT_READINESS_TIMEOUT } from './schema.js';
import type { VmSpec } from './apply.js';

/** One event.from round at most this long, so the deadline is looked at again. */
const ROUND_SECONDS = 10;

/** What one look at the VM found: healthy (with the guest metrics it rests on) or why not. */
type Look = { healthy: true; metrics: Ref } | { healthy: false; why: string };

async function look(caller: XapiCaller, vm: Ref, cidr: string | undefined): Promise<Look> {
  const power = await caller.call<string>('VM.get_power_state', vm);
  if (power !== 'Running') return { healthy: false, why: `it is ${power.toLowerCase()}` };
  const metrics = await caller.call<Ref>('VM.get_guest_metrics', vm);
  if (!metrics || metrics === NULL_REF) return { healthy: false, why: 'its guest agent has not reported since the restart' };
  const rec = await caller.call<{ live?: boolean; networks?: Record<string, string> }>('VM_guest_metrics.get_record', metrics);
  if (rec.live === false) return { healthy: false, why: 'its guest agent stopped reporting (guest metrics not live)' };
  if (cidr !== undefined) {
    const addresses = reportedAddresses(rec.networks);
    if (!addresses.some((ip) => inRange(ip, cidr))) {
      return { healthy: false, why: `its guest reports no address in ${cidr} (reported: ${addresses.length ? addresses.join(', ') : 'none'})` };
    }
  }
  return { healthy: true, metrics };
}

/** Resolves with the guest metrics once the VM is healthy; rejects with UnhealthyError at the deadline. */
async function untilHealthy(caller: XapiCaller, address: string, vm: Ref, cidr: string | undefined, timeoutSeconds: number, wait: HealthWait): Promise<Ref> {
  const deadline = wait.clock.now() + timeoutSeconds * 1000;
  const classes = [`vm/${vm}`, 'vm_guest_metrics'];
  let token = '';
  for (;;) {
    const seen = await look(caller, vm, cidr);
    if (seen.healthy) return seen.metrics;
    const left = (deadline - wait.clock.now()) / 1000;
    if (left <= 0 || wait.signal?.aborted) throw new UnhealthyError(address, `not healthy within ${timeoutSeconds}s after the change: ${seen.why}`);
    // The first round (empty token) returns at once with a token; later ones wait for a change.
    const batch = await caller.call<{ token: string }>('event.from', classes, token, eventTimeout(token === '' ? 0 : Math.min(left, ROUND_SECONDS)));
    token = batch.token;
  }
}

/**
 * The VM of a rollout action is healthy again and stays so for `healthyAfter`: running, the same live guest
 * metrics (no second restart in between) and its readiness address, if it declares one. A VM whose
 * manifest does not ask it to run has nothing to come back to and is healthy as it is.
 */
export async function vmHealthy(action: Action, ctx: ApplyContext, wait: HealthWait): Promise<void> {
  const spec = maybeDesiredSpec<VmSpec>(action);
  if (spec !== undefined && spec.powerState !== 'running') return;
  const vm = action.objects.find((o) => o.cls === 'VM')?.ref;
  if (!vm) throw new UnhealthyError(action.address, `action ${action.id} names no VM to watch`);
  const cidr = spec?.readiness?.waitForIP;
  const metrics = await untilHealthy(ctx.caller, action.address, vm, cidr, spec?.readiness?.timeout ?? DEFAULT_READINESS_TIMEOUT, wait);
  wait.onHealthy?.();
  if (wait.healthyAfterMs <= 0) return;
  ctx.log.info({ address: action.address, seconds: wait.healthyAfterMs / 1000 }, 'healthy after the change: waiting healthyAfter before the next batch');
  await wait.clock.sleep(wait.healthyAfterMs, wait.signal);
  const again = await look(ctx.caller, vm, cidr);
  if (!again.healthy) throw new UnhealthyError(action.address, `healthy after the change, then not within healthyAfter (${wait.healthyAfterMs / 1000}s): ${again.why}`);
  if (again.metrics !== metrics) throw new UnhealthyError(action.address, `restarted again within healthyAfter (${wait.healthyAfterMs / 1000}s): its guest metrics were replaced`);
}
