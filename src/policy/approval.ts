import { createHash } from 'node:crypto';
import type { DesiredState } from '../model/desired.js';
import type { Action } from '../model/plan.js';
import { stableStringify } from '../plan/values.js';
import { effectiveSettings, resourceFacts } from './settings.js';

/** The annotation that approves actions: a comma- or space-separated list of action hashes or action ids. */
export const APPROVE_ANNOTATION = 'xops.io/approve';

/** Hex characters kept from the SHA-256: short enough to type, long enough not to collide in one repo. */
const HASH_LENGTH = 12;

/**
 * A short, stable hash of what an action does: its id and its field changes (path, from, to), so an
 * approval covers exactly the change the operator saw. It does not depend on the plan's time, on
 * other actions or on the order of the changes; it changes when the planned change does (a new
 * target value, or drift that moves `from`), and then the approval has to be given again.
 */
export function approvalHash(action: Pick<Action, 'id' | 'changes'>): string {
  const changes = action.changes
    .map((c) => ({ path: c.path, from: c.from, to: c.to }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // stableStringify's output never changes for a value, so an approval given once stays valid.
  const canonical = stableStringify({ id: action.id, changes });
  return createHash('sha256').update(canonical).digest('hex').slice(0, HASH_LENGTH);
}

/** The approvals one annotation value carries. */
export function approvalTokens(value: string | undefined): string[] {
  return value ? value.split(/[\s,]+/).filter((t) => t !== '') : [];
}

/**
 * Every approval token present in Git for `address`: the annotation on the resource's own manifest
 * and on every Policy document, plus `extra` (approvals the caller found elsewhere, e.g. commit trailers).
 */
export function approvalsFor(desired: DesiredState, address: string, extra: readonly string[] = []): Set<string> {
  const tokens = sharedApprovals(desired, extra);
  for (const t of manifestApprovals(desired, address)) tokens.add(t);
  return tokens;
}

/** Approvals that apply to every resource: those on Policy documents, plus `extra`. */
export function sharedApprovals(desired: DesiredState, extra: readonly string[] = []): Set<string> {
  const tokens = new Set<string>(extra);
  for (const policy of desired.policies) {
    for (const t of approvalTokens(policy.meta.annotations[APPROVE_ANNOTATION])) tokens.add(t);
  }
  return tokens;
}

/** Approvals written on the resource's own manifest (none when it has no manifest). */
export function manifestApprovals(desired: DesiredState, address: string): string[] {
  return approvalTokens(resourceFacts(desired).get(address)?.annotations[APPROVE_ANNOTATION]);
}

/** True when Git approves this action, by its hash or by its id. */
export function isApproved(action: Action, approvals: ReadonlySet<string>): boolean {
  return approvals.has(approvalHash(action)) || approvals.has(action.id);
}

/**
 * Whether a destructive action has been approved: a Policy requires approval for destructive changes
 * of this resource and the approval gate let the action through (the commit carries the approval).
 * Without such a Policy nothing approves data loss; only an operator's explicit flag can.
 */
export function destructiveApproved(desired: DesiredState, action: Pick<Action, 'address' | 'gate'>): boolean {
  return action.gate.state === 'allowed' && effectiveSettings(desired, action.address).approval.includes('destructive');
}
