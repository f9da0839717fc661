/**
 * The per-resource states /status shows for what the plan could not do: a refused change, a
 * resource the planner could not plan, a manifest an admission rule denies.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/model/diagnostics.js';
import type { Plan } from '../../src/model/plan.js';
import { reconcileOutcome } from '../../src/controller/outcome.js';
import { resourceStates, withDenied } from '../../src/controller/status.js';

const plan = (over: Partial<Plan>): Plan => ({
  formatVersion: 1, createdAt: '', source: { path: '.' }, observed: { token: 't', objects: {} }, actions: [], refused: [], diagnostics: [], ...over,
});

describe('resource states for problems', () => {
  it('a refused change makes its resource refused and the reconcile a failure that names it', () => {
    const outcome = reconcileOutcome(plan({ refused: [{ address: 'VM/big', path: 'spec.memory', reason: 'needs 100 GiB of memory' }] }), [], ['VM/big', 'VM/small']);
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toBe('1 change(s) refused: VM/big spec.memory: needs 100 GiB of memory');
    expect(resourceStates(outcome)).toEqual([
      { address: 'VM/big', state: 'refused', reason: 'spec.memory: needs 100 GiB of memory' },
      { address: 'VM/small', state: 'synced' },
    ]);
  });

  it('a declared resource whose create has not run is missing; one whose update has not run is progressing', () => {
    const action = (operation: 'create' | 'update', address: string) => ({
      id: `${operation}:${address}`, address, kind: 'VM' as const, name: address.slice(3), operation, disruption: 'none' as const,
      reason: `${operation} it`, changes: [], dependsOn: [], objects: [], gate: { state: 'allowed' as const },
    });
    const states = resourceStates({ ok: false, plan: plan({ actions: [action('create', 'VM/new'), action('update', 'VM/old')] }), applied: [], resources: ['VM/new', 'VM/old'] });
    expect(states).toEqual([
      { address: 'VM/new', state: 'missing', reason: 'create it' },
      { address: 'VM/old', state: 'progressing', reason: 'update it' },
    ]);
  });

  it('a resource the planner could not plan is failed, with the diagnostic', () => {
    const conflict: Diagnostic = { severity: 'error', code: 'conflict', message: "an unmanaged VM is named 'web01'", address: 'VM/web01' };
    const states = resourceStates({ ok: false, plan: plan({ diagnostics: [conflict] }), resources: ['VM/web01'] });
    expect(states).toEqual([{ address: 'VM/web01', state: 'failed', reason: "an unmanaged VM is named 'web01'" }]);
  });

  it('a denied manifest is denied; the other resources keep their state', () => {
    const denied: Diagnostic = { severity: 'error', code: 'admission', message: 'every VM needs an owner label', address: 'VM/b' };
    const schema: Diagnostic = { severity: 'error', code: 'schema', message: 'bad', address: 'VM/c' };
    expect(withDenied([{ address: 'VM/a', state: 'synced' }, { address: 'VM/b', state: 'synced' }], [denied, schema])).toEqual([
      { address: 'VM/a', state: 'synced' },
      { address: 'VM/b', state: 'denied', reason: 'every VM needs an owner label' },
    ]);
  });
});
