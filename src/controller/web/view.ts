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
}

/** How many history entries per pool the page receives: the page is a glance, `/history` has the rest. */
export const PAGE_HISTORY_ENTRIES = 20;

/** A pool's page view from its status and history; history is cut to PAGE_HISTORY_ENTRIES. */
export function poolPageView(status: ControllerStatus, history: readonly HistoryEntry[], name?: string): PoolPageView {
  return { name: name || status.pool || status.source.description, status, history: history.slice(0, PAGE_HISTORY_ENTRIES) };
}
