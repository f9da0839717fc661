import type { Action, Plan } from '../model/plan.js';

/**
 * Counts the summary line is made of. Power and migrate actions count as updates; adopt actions
 * (taking over an existing unmanaged object) have their own count, so the operations add up to
 * the number of actions.
 */
export interface PlanCounts {
  create: number;
  update: number;
  adopt: number;
  replace: number;
  delete: number;
  reboot: number;
  downtime: number;
  destructive: number;
  held: number;
  refused: number;
  errors: number;
  warnings: number;
}

function bucket(a: Action): 'create' | 'update' | 'adopt' | 'replace' | 'delete' {
  if (a.operation === 'create' || a.operation === 'replace' || a.operation === 'adopt' || a.operation === 'delete') return a.operation;
  return 'update';
}

/** The plan's counts by operation, by disruption, held/refused actions and diagnostics. */
export function countPlan(plan: Plan): PlanCounts {
  const c: PlanCounts = { create: 0, update: 0, adopt: 0, replace: 0, delete: 0, reboot: 0, downtime: 0, destructive: 0, held: 0, refused: plan.refused.length, errors: 0, warnings: 0 };
  for (const a of plan.actions) {
    c[bucket(a)]++;
    if (a.disruption !== 'none') c[a.disruption]++;
    if (a.gate.state === 'held') c.held++;
  }
  for (const d of plan.diagnostics) c[d.severity === 'error' ? 'errors' : 'warnings']++;
  return c;
}

/**
 * `N to create, N to update, N to replace, N to delete — N need a reboot, N cause downtime, N destructive`,
 * with `N to adopt` after the updates when the plan adopts anything, then held and refused counts when any.
 */
export function summaryLine(plan: Plan): string {
  const c = countPlan(plan);
  const adopt = c.adopt ? `, ${c.adopt} to adopt` : '';
  let line = `${c.create} to create, ${c.update} to update${adopt}, ${c.replace} to replace, ${c.delete} to delete — ` +
    `${c.reboot} need a reboot, ${c.downtime} cause downtime, ${c.destructive} destructive`;
  if (c.held) line += ` (${c.held} held by policy)`;
  if (c.refused) line += `; ${c.refused} refused (an error: those changes are not made)`;
  return line;
}

/** Whether applying the plan would change anything (the `--detailed-exitcode` question). */
export function hasChanges(plan: Plan): boolean {
  return plan.actions.length > 0;
}

/** Whether the plan has actions and a policy holds every one of them: apply would change nothing now. */
export function onlyHeldChanges(plan: Plan): boolean {
  return plan.actions.length > 0 && plan.actions.every((a) => a.gate.state === 'held');
}
