import type { Plan } from '../../model/plan.js';
import type { HistoryEntry } from '../history.js';
import type { ControllerStatus } from '../status.js';

/**
 * What the web page shows: a list of pools, each with its `/status` body and its newest reconciles
 * (newest first). One controller fills it with its one pool today; a fleet fills one entry per pool.
 * Fields are only ever added, never renamed: the page's script reads them.
 */
export interface PageView {
  pools: PoolPageView[];
}

/** One pool on the page. */
export interface PoolPageView {
  /** What the page calls the pool: its name_label when known, else the source's description. */
  name: string;
  status: ControllerStatus;
  history: HistoryEntry[];
  /** The last reconcile's plan, when it planned anything. */
  plan?: PlanSummary;
}

/** The last plan as the page lists it: each action with its disruption label and whether a policy holds it. */
export interface PlanSummary {
  createdAt: string;
  /** How many actions the plan had; `actions` holds at most PAGE_PLAN_ACTIONS of them. */
  total: number;
  /** `fields`: the manifest paths an action changes (none listed for a create). */
  actions: { address: string; operation: string; disruption: string; reason: string; held: boolean; drift: boolean; fields: string[] }[];
}

/** How many of the last plan's actions the page receives. */
export const PAGE_PLAN_ACTIONS = 200;

/** The page's summary of a plan (bounded to PAGE_PLAN_ACTIONS actions). */
export function planSummary(plan: Plan): PlanSummary {
  return {
    createdAt: plan.createdAt,
    total: plan.actions.length,
    actions: plan.actions.slice(0, PAGE_PLAN_ACTIONS).map((a) => ({
      address: a.address,
      operation: a.operation,
      disruption: a.disruption,
      reason: a.reason,
      held: a.gate.state === 'held',
      drift: a.drift === true,
      // A create sets every field: listing them says nothing.
      fields: a.operation === 'create' ? [] : a.changes.map((c) => c.path),
    })),
  };
}

/** How many history entries per pool the page receives: the page is a glance, `/history` has the rest. */
export const PAGE_HISTORY_ENTRIES = 20;

/** A pool's page view from its status and history; history is cut to PAGE_HISTORY_ENTRIES. */
export function poolPageView(status: ControllerStatus, history: readonly HistoryEntry[], name?: string, plan?: PlanSummary): PoolPageView {
  return { name: name || status.pool || status.source.description, status, history: history.slice(0, PAGE_HISTORY_ENTRIES), ...(plan ? { plan } : {}) };
}
