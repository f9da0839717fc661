import type { PowerState } from '../../model/desired.js';
import type { Ref, VMRecord } from '../../model/observed.js';
import type { XapiCaller } from '../../xapi/caller.js';
import { isXapiError } from '../../apply/xapi.js';

type XapiPower = VMRecord['power_state'];

const WIRE: Record<PowerState, XapiPower> = {
  running: 'Running',
  halted: 'Halted',
  suspended: 'Suspended',
  paused: 'Paused',
};

async function powerState(caller: XapiCaller, vm: Ref): Promise<XapiPower> {
  return caller.call<XapiPower>('VM.get_power_state', vm);
}

/** Halts a VM: clean shutdown first, hard shutdown when the guest does not cooperate. */
export async function halt(caller: XapiCaller, vm: Ref): Promise<void> {
  const state = await powerState(caller, vm);
  if (state === 'Halted') return;
  if (state === 'Running') {
    try {
      await caller.callAsync('VM.clean_shutdown', vm);
      return;
    } catch (err) {
      // Already halted by a previous attempt whose reply was lost: done.
      if (isXapiError(err, 'VM_BAD_POWER_STATE') && (await powerState(caller, vm)) === 'Halted') return;
      if (!isXapiError(err)) throw err;
    }
  }
  await caller.callAsync('VM.hard_shutdown', vm);
}

/**
 * Moves a VM to the desired power state with the fewest transitions. Every step re-reads the state,
 * so a retried or resumed call does not repeat a transition that already happened.
 */
export async function convergePower(caller: XapiCaller, vm: Ref, desired: PowerState, host?: Ref): Promise<void> {
  const target = WIRE[desired];
  for (let step = 0; step < 4; step++) {
    const state = await powerState(caller, vm);
    if (state === target) return;
    switch (state) {
      case 'Halted':
        if (host) await caller.callAsync('VM.start_on', vm, host, target === 'Paused', false);
        else await caller.callAsync('VM.start', vm, target === 'Paused', false);
        break;
      case 'Running':
        if (target === 'Halted') await halt(caller, vm);
        else if (target === 'Suspended') await caller.callAsync('VM.suspend', vm);
        else await caller.callAsync('VM.pause', vm);
        break;
      case 'Paused':
        if (target === 'Halted') await caller.callAsync('VM.hard_shutdown', vm);
        else await caller.callAsync('VM.unpause', vm);
        break;
      case 'Suspended':
        if (target === 'Halted') await caller.callAsync('VM.hard_shutdown', vm);
        else await caller.callAsync('VM.resume', vm, target === 'Paused', false);
        break;
    }
  }
  const final = await powerState(caller, vm);
  if (final !== target) throw new Error(`VM ${vm} is ${final}, not ${target}, after power transitions`);
}

/**
 * Runs `change` with the VM halted (for changes XAPI only allows on a halted VM), then brings it
 * back to the state it was in. Returns without halting when it is already halted.
 */
export async function whileHalted(caller: XapiCaller, vm: Ref, change: () => Promise<void>): Promise<void> {
  const before = await powerState(caller, vm);
  if (before === 'Halted') return change();
  await halt(caller, vm);
  await change();
  const back: PowerState = before === 'Running' ? 'running' : before === 'Paused' ? 'paused' : 'halted';
  // A suspended VM loses its suspend image when hard-halted; it comes back halted and the plan's
  // power change (if any) decides what happens next.
  await convergePower(caller, vm, back);
}
