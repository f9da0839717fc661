import type { Plan } from '../../src/model/plan.js';

/**
 * The golden form of a plan: one line per action (`id disruption [changed paths]`), refusals as
 * `address path`, diagnostics as `severity code address`. Small enough to read in a table, and it
 * keeps what a reviewer cares about: what happens, in which order, at what cost.
 */
export function summarize(plan: Plan): { actions: string[]; refused: string[]; diagnostics: string[] } {
  return {
    actions: plan.actions.map((a) => `${a.id} ${a.disruption}${a.changes.length && a.operation !== 'create' ? ` [${a.changes.map((c) => c.path).join(', ')}]` : ''}`),
    refused: plan.refused.map((r) => `${r.address} ${r.path}`),
    diagnostics: plan.diagnostics.map((d) => `${d.severity} ${d.code} ${d.address ?? ''}`.trim()),
  };
}
