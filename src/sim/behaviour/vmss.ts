/**
 * VMSS, XAPI's VM snapshot schedules, and the scheduler that carries them out. The rules come from xen-api
 * `ocaml/xapi/xapi_vmss.ml` (schedule keys per frequency, their ranges and defaults, retained_snapshots 1..10,
 * VMSS_HAS_VM on destroy), `ocaml/xapi/map_check.ml` (INVALID_VALUE ["field:key", value]) and
 * `ocaml/xapi/xapi_vm.ml` `set_snapshot_schedule` (INVALID_VALUE for a dangling ref or a control domain,
 * VM_IS_TEMPLATE for a template). In XAPI the snapshots are taken by dom0's `vmss` plugin; here the
 * simulator's clock drives them: every occurrence of an enabled schedule that an advance passes takes one
 * snapshot (or checkpoint) of each member VM, then each VM keeps only its `retained_snapshots` newest
 * scheduled snapshots. Times are the pool's (UTC: the simulated hosts' local timezone).
 */
import type { SimClock } from '../clock.js';
import type { Call, Handler, SimCore } from '../core.js';
import { XapiFailure, fail } from '../errors.js';
import { NULL_REF, xapiDate } from '../ids.js';
import { createFromRecord } from '../generic.js';

const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;
const MINUTES = ['0', '15', '30', '45'];

type KeyRule = { check: (v: string) => string | undefined; def: string };
const enumRule = (range: readonly string[], def: string): KeyRule => ({ check: (v) => range.find((r) => r.toLowerCase() === v.toLowerCase()), def });
const hourRule: KeyRule = { check: (v) => (/^\d{1,2}$/.test(v) && Number(v) <= 23 ? String(Number(v)) : undefined), def: '0' };
const daysRule: KeyRule = {
  check(v) {
    const out: string[] = [];
    for (const d of v.split(',')) {
      const day = DAYS.find((x) => x.toLowerCase() === d.toLowerCase());
      if (!day || out.includes(day)) return undefined;
      out.push(day);
    }
    return out.join(',');
  },
  def: 'Monday',
};

/** The schedule keys each frequency takes (xapi_vmss.ml `schedule_frequency_*_keys`). */
const KEYS: Record<string, Record<string, KeyRule>> = {
  hourly: { min: enumRule(MINUTES, '0') },
  daily: { hour: hourRule, min: enumRule(MINUTES, '0') },
  weekly: { hour: hourRule, min: enumRule(MINUTES, '0'), days: daysRule },
};

/**
 * Checks `schedule` against `frequency`'s keys and returns it complete: values in canonical form, missing
 * keys at their defaults, keys of other frequencies dropped (when `strict`, any key the frequency does not take
 * fails, as XAPI's create and set_schedule do).
 */
export function normaliseSchedule(frequency: string, schedule: Record<string, string>, strict: boolean): Record<string, string> {
  const rules = KEYS[frequency];
  if (!rules) throw fail('INVALID_VALUE', 'frequency', frequency);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(schedule)) {
    const rule = rules[key];
    if (!rule) {
      if (strict) throw fail('INVALID_VALUE', `schedule:${key}`, value);
      continue;
    }
    const v = rule.check(String(value));
    if (v === undefined) throw fail('INVALID_VALUE', `schedule:${key}`, String(value));
    out[key] = v;
  }
  for (const [key, rule] of Object.entries(rules)) out[key] ??= rule.def;
  return out;
}

function assertRetained(value: unknown): void {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10) throw fail('INVALID_VALUE', 'retained_snapshots', String(value));
}

/** The first occurrence of the schedule strictly after `after` (UTC). */
export function nextOccurrence(frequency: string, schedule: Record<string, string>, after: Date): Date {
  const min = Number(schedule.min ?? 0);
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  if (frequency === 'hourly') {
    t.setUTCMinutes(min);
    if (t <= after) t.setUTCHours(t.getUTCHours() + 1);
    return t;
  }
  t.setUTCHours(Number(schedule.hour ?? 0), min);
  if (t <= after) t.setUTCDate(t.getUTCDate() + 1);
  if (frequency === 'weekly') {
    const days = (schedule.days ?? 'Monday').split(',');
    // getUTCDay: 0 is Sunday; DAYS starts on Monday.
    for (let i = 0; i < 7 && !days.includes(DAYS[(t.getUTCDay() + 6) % 7]!); i++) t.setUTCDate(t.getUTCDate() + 1);
  }
  return t;
}

/** At most this many occurrences run per schedule in one advance (a year of hourly runs). */
const MAX_RUNS_PER_ADVANCE = 9000;

function invoke(core: SimCore, wire: string, args: unknown[]): unknown {
  const [cls, name] = wire.split('.') as [string, string];
  const spec = core.model.classes.get(cls)!.messages.get(name)!;
  const c: Call = { core, db: core.db, spec, args, session: '', hostIndex: 0 };
  return core.handlers.get(wire)!(c);
}

/** Takes one scheduled snapshot of each member, stamps it with `at`, then prunes beyond retention. */
export function runSchedule(core: SimCore, vmss: string, at: Date): string[] {
  const db = core.db;
  const rec = db.record(vmss);
  const taken: string[] = [];
  for (const vm of [...(rec.VMs as string[])]) {
    const vmRec = db.record(vm);
    const op = rec.type === 'checkpoint' && vmRec.power_state === 'Running' ? 'VM.checkpoint' : 'VM.snapshot';
    try {
      const snap = invoke(core, op, [vm, `${vmRec.name_label as string}-${xapiDate(at).replace(/[:]/g, '')}`, []]) as string;
      db.update(snap, { is_vmss_snapshot: true, snapshot_time: xapiDate(at) });
      taken.push(snap);
    } catch (e) {
      // The plugin records a failed VM and carries on with the others.
      if (!(e instanceof XapiFailure)) throw e;
    }
    prune(core, vm, Number(rec.retained_snapshots));
  }
  db.set(vmss, 'last_run_time', xapiDate(at));
  return taken;
}

/** Destroys the VM's oldest scheduled snapshots (and their disks) beyond `retained`. */
function prune(core: SimCore, vm: string, retained: number): void {
  const db = core.db;
  const scheduled = (db.record(vm).snapshots as string[])
    .filter((s) => db.get(s)?.rec.is_vmss_snapshot === true)
    .sort((a, b) => String(db.record(a).snapshot_time).localeCompare(String(db.record(b).snapshot_time)));
  for (const snap of scheduled.slice(0, Math.max(0, scheduled.length - retained))) {
    const vdis = (db.record(snap).VBDs as string[]).map((vbd) => db.record(vbd).VDI as string).filter((v) => v !== NULL_REF && db.get(v));
    invoke(core, 'VM.destroy', [snap]);
    for (const vdi of vdis) if (db.get(vdi)) invoke(core, 'VDI.destroy', [vdi]);
  }
}

/**
 * Runs every schedule occurrence up to `now`: called after each clock advance. `since` holds, per VMSS, the
 * time up to which it has been run (its creation time, for one never run).
 */
function catchUp(core: SimCore, since: Map<string, Date>, now: Date): void {
  for (const o of [...core.db.all('VMSS')]) {
    let from = since.get(o.ref) ?? now;
    if (o.rec.enabled === true) {
      for (let i = 0; i < MAX_RUNS_PER_ADVANCE; i++) {
        if (!core.db.get(o.ref)) break;
        const at = nextOccurrence(o.rec.frequency as string, o.rec.schedule as Record<string, string>, from);
        if (at > now) break;
        runSchedule(core, o.ref, at);
        from = at;
      }
    }
    since.set(o.ref, now);
  }
}

/** Makes the clock drive the pool's snapshot schedules. */
export function attachVmssScheduler(core: SimCore, clock: SimClock): Map<string, Date> {
  const since = new Map<string, Date>();
  clock.onAdvance((now) => catchUp(core, since, now));
  return since;
}

/** VMSS.* and VM.set_snapshot_schedule. `since` is the scheduler's map (see attachVmssScheduler). */
export function vmssHandlers(since: Map<string, Date>): Record<string, Handler> {
  const self = (c: Call): string => c.db.expect('VMSS', c.args[0]).ref;
  return {
    'VMSS.create': (c) => {
      const args = { ...(c.args[0] as Record<string, unknown>) };
      assertRetained(args.retained_snapshots ?? 7);
      args.schedule = normaliseSchedule(String(args.frequency), (args.schedule ?? {}) as Record<string, string>, true);
      const ref = createFromRecord(c, c.db.classOf('VMSS'), args);
      since.set(ref, c.core.clock.now());
      return ref;
    },
    'VMSS.destroy': (c) => {
      const ref = self(c);
      if ((c.db.record(ref).VMs as string[]).length > 0) throw fail('VMSS_HAS_VM');
      since.delete(ref);
      c.db.destroy(ref);
    },
    'VMSS.snapshot_now': (c) => {
      runSchedule(c.core, self(c), c.core.clock.now());
      return 'True';
    },
    'VMSS.set_retained_snapshots': (c) => {
      assertRetained(c.args[1]);
      c.db.set(self(c), 'retained_snapshots', Number(c.args[1]));
    },
    'VMSS.set_frequency': (c) => {
      const ref = self(c);
      const schedule = normaliseSchedule(String(c.args[1]), c.db.record(ref).schedule as Record<string, string>, false);
      c.db.update(ref, { frequency: c.args[1], schedule });
    },
    'VMSS.set_schedule': (c) => {
      const ref = self(c);
      c.db.set(ref, 'schedule', normaliseSchedule(c.db.record(ref).frequency as string, c.args[1] as Record<string, string>, true));
    },
    'VMSS.add_to_schedule': (c) => {
      const ref = self(c);
      const merged = { ...(c.db.record(ref).schedule as Record<string, string>), [String(c.args[1])]: String(c.args[2]) };
      c.db.set(ref, 'schedule', normaliseSchedule(c.db.record(ref).frequency as string, merged, true));
    },
    'VMSS.remove_from_schedule': (c) => {
      const ref = self(c);
      const rest = { ...(c.db.record(ref).schedule as Record<string, string>) };
      delete rest[String(c.args[1])];
      c.db.set(ref, 'schedule', rest);
    },
    'VMSS.set_type': (c) => {
      if (c.args[1] === 'snapshot_with_quiesce') throw fail('VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED', self(c));
      c.db.set(self(c), 'type', c.args[1]);
    },
    'VMSS.set_last_run_time': (c) => c.db.set(self(c), 'last_run_time', c.args[1]),
    'VM.set_snapshot_schedule': (c) => {
      const vm = c.db.expect('VM', c.args[0]).ref;
      const value = String(c.args[1] ?? NULL_REF);
      if (value !== NULL_REF && value !== '') {
        const target = c.db.get(value);
        if (!target || target.cls.name !== 'VMSS') throw fail('INVALID_VALUE', value);
        const rec = c.db.record(vm);
        if (rec.is_control_domain) throw fail('INVALID_VALUE', value);
        if (rec.is_a_template) throw fail('VM_IS_TEMPLATE', vm);
      }
      c.db.set(vm, 'snapshot_schedule', value === '' ? NULL_REF : value);
    },
  };
}
