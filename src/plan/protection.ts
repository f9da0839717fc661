import type { ProtectedSelector } from '../config/types.js';
import type { ObservedClass, Ref, XapiRecord } from '../model/observed.js';
import type { DraftAction, PlanContext } from './context.js';

/**
 * Why XAPI or the hosts own an object of a kind's main class, so that xops never adopts, changes or
 * deletes it whatever the repository says (a kind's contract supplies it: control domains,
 * templates, the SRs and networks a host ships with), or undefined.
 */
export type BuiltInProtection = (ctx: PlanContext, record: XapiRecord) => string | undefined;

/** Whether an operator's `protected` entry names this object. */
export function selectedBy(selector: ProtectedSelector, cls: ObservedClass, record: XapiRecord): boolean {
  if (selector.class !== undefined && selector.class !== cls) return false;
  if ('uuid' in selector) return record.uuid === selector.uuid;
  if ('name' in selector) return record['name_label'] === selector.name;
  const tags = record['tags'];
  return Array.isArray(tags) && tags.includes(selector.tag);
}

/** Why an object is protected (built in, or listed by the operator), or undefined. */
export function protectionOf(
  ctx: PlanContext,
  cls: ObservedClass,
  record: XapiRecord,
  builtIn: BuiltInProtection | undefined,
  selectors: readonly ProtectedSelector[],
): string | undefined {
  const own = builtIn?.(ctx, record);
  if (own) return own;
  return selectors.some((s) => selectedBy(s, cls, record)) ? "it is listed under protected in the operator's configuration" : undefined;
}

/**
 * Drops every action that would adopt, change or delete a protected object — and the actions that
 * depend on it — and reports each as an error on its resource. A create is never refused here: the
 * objects it names (a template to clone) are read, not changed. `mainClass` and `builtIn` come from
 * the kinds' contracts.
 */
export function refuseProtected(
  ctx: PlanContext,
  rules: ReadonlyMap<string, { mainClass: ObservedClass; builtIn?: BuiltInProtection }>,
  selectors: readonly ProtectedSelector[],
): void {
  const dropped = new Set<string>();
  const reported = new Set<string>();
  for (const action of ctx.actions) {
    if (action.operation === 'create') continue;
    const rule = rules.get(action.kind);
    if (!rule) continue;
    const own = action.objects.find((o) => o.cls === rule.mainClass);
    const record = own ? recordOf(ctx, own.cls, own.ref) : undefined;
    if (!own || !record) continue;
    const why = protectionOf(ctx, own.cls, record, rule.builtIn, selectors);
    if (!why) continue;
    dropped.add(action.id);
    if (reported.has(action.address)) continue;
    reported.add(action.address);
    const name = typeof record['name_label'] === 'string' ? record['name_label'] : record.uuid;
    const reason = `${own.cls} '${name}' (${record.uuid}) is protected: ${why}; xops never adopts, changes or deletes it`;
    ctx.refused.push({ address: action.address, path: '', reason });
    const doc = ctx.desired.documents.find((d) => d.address === action.address);
    ctx.diagnostics.push({ severity: 'error', code: 'protected', address: action.address, message: reason, ...(doc ? { location: doc.source } : {}) });
  }
  if (dropped.size === 0) return;
  // What waits on a refused action cannot run either.
  for (let grew = true; grew; ) {
    grew = false;
    for (const a of ctx.actions) {
      if (!dropped.has(a.id) && a.dependsOn.some((d) => dropped.has(d))) {
        dropped.add(a.id);
        grew = true;
      }
    }
  }
  const kept: DraftAction[] = ctx.actions.filter((a) => !dropped.has(a.id));
  ctx.actions.splice(0, ctx.actions.length, ...kept);
}

function recordOf(ctx: PlanContext, cls: ObservedClass, ref: Ref): XapiRecord | undefined {
  return (ctx.observed.records[cls] as Map<Ref, XapiRecord>).get(ref);
}
