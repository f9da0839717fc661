import type { Call, Handler } from '../core.js';
import { XapiFailure, fail } from '../errors.js';
import { NULL_REF } from '../ids.js';
import { hostComputeFreeMemory, vmMemoryOverhead } from './memory.js';

type Member = { ref: string; order: number; power: string };

function members(c: Call, appliance: string): Member[] {
  return (c.db.record(appliance).VMs as string[]).map((ref) => {
    const r = c.db.record(ref);
    return { ref, order: r.order as number, power: r.power_state as string };
  });
}

/**
 * Runs `op` on each member in start order (or reverse order for shutdowns); like XAPI, one failure does not stop
 * the others, and the call then fails OPERATION_PARTIALLY_FAILED.
 */
async function forEachMember(c: Call, opName: string, reverse: boolean, wanted: (m: Member) => boolean, op: (vm: string) => unknown): Promise<void> {
  const appliance = c.db.expect('VM_appliance', c.args[0]).ref;
  const list = members(c, appliance)
    .filter(wanted)
    .sort((a, b) => (reverse ? b.order - a.order : a.order - b.order));
  let failed = false;
  for (const m of list) {
    try {
      await op(m.ref);
    } catch (e) {
      if (!(e instanceof XapiFailure)) throw e;
      failed = true;
    }
  }
  if (failed) throw fail('OPERATION_PARTIALLY_FAILED', opName);
}

function call(c: Call, wire: string, ...args: unknown[]): unknown {
  const [cls, name] = wire.split('.') as [string, string];
  const spec = c.core.model.classes.get(cls)!.messages.get(name)!;
  return c.core.handlers.get(wire)!({ ...c, spec, args });
}

/** pool, host and VM_appliance behaviour not covered by the generated messages. */
export function poolHandlers(): Record<string, Handler> {
  return {
    'VM_appliance.destroy': (c) => {
      const app = c.db.expect('VM_appliance', c.args[0]);
      for (const vm of [...(app.rec.VMs as string[])]) c.db.set(vm, 'appliance', NULL_REF);
      c.db.destroy(app.ref);
    },
    'VM_appliance.start': (c) =>
      forEachMember(c, 'start', false, (m) => m.power === 'Halted', (vm) => call(c, 'VM.start', vm, c.args[1], false)),
    'VM_appliance.clean_shutdown': (c) =>
      forEachMember(c, 'clean_shutdown', true, (m) => m.power === 'Running', (vm) => call(c, 'VM.clean_shutdown', vm)),
    'VM_appliance.hard_shutdown': (c) =>
      forEachMember(c, 'hard_shutdown', true, (m) => m.power !== 'Halted', (vm) => call(c, 'VM.hard_shutdown', vm)),
    'VM_appliance.shutdown': (c) =>
      forEachMember(c, 'shutdown', true, (m) => m.power !== 'Halted', (vm) => call(c, 'VM.shutdown', vm)),
    'VM_appliance.get_SRs_required_for_recovery': () => [],
    'pool.get_license_state': () => ({ edition: 'xcp-ng', expiry: 'never' }),
    'host.get_servertime': () => new Date().toISOString().replace(/[-]/g, '').replace(/\.\d+Z$/, 'Z'),
    'host.get_server_localtime': () => new Date().toISOString().replace(/[-]/g, '').replace(/\.\d+Z$/, 'Z'),
    'host.enable': (c) => c.db.set(c.db.expect('host', c.args[0]).ref, 'enabled', true),
    'host.disable': (c) => c.db.set(c.db.expect('host', c.args[0]).ref, 'enabled', false),
    'host.compute_free_memory': (c) => hostComputeFreeMemory(c.db, c.db.expect('host', c.args[0]).ref),
    'host.compute_memory_overhead': (c) => c.db.expect('host', c.args[0]).rec.memory_overhead,
    'VM.compute_memory_overhead': (c) => vmMemoryOverhead(c.db.expect('VM', c.args[0]).rec),
  };
}
