import { describe, expect, it } from 'vitest';
import type { FieldChange } from '../../src/model/plan.js';
import { approvalHash, approvalTokens, approvalsFor } from '../../src/policy/approval.js';
import { snapshotName } from '../../src/policy/snapshot.js';
import { sizeInBytes } from '../../src/policy/size-keywords.js';
import { action, desired, policy, rawDoc } from './helpers.js';

const mem: FieldChange = { path: 'spec.memory', from: 2 ** 30, to: 2 ** 31, disruption: 'reboot' };
const cpu: FieldChange = { path: 'spec.vcpus', from: 1, to: 2, disruption: 'none' };

describe('approvalHash', () => {
  const base = action('VM/web01', { changes: [mem, cpu] });

  it('is 12 lowercase hex characters, short enough to paste into an annotation', () => {
    expect(approvalHash(base)).toMatch(/^[0-9a-f]{12}$/);
  });

  const same: { why: string; other: Parameters<typeof approvalHash>[0] }[] = [
    { why: 'the order of the changes does not matter', other: { ...base, changes: [cpu, mem] } },
    {
      why: 'the disruption label and reason are the planner’s words, not the change',
      other: { ...base, changes: [{ ...mem, disruption: 'downtime', reason: 'x' }, cpu] },
    },
    { why: 'a fresh object with equal data (a new plan, another reconcile) hashes the same', other: structuredClone(base) },
  ];
  it.each(same)('stays the same when $why', ({ other }) => {
    expect(approvalHash(other)).toBe(approvalHash(base));
  });

  const different: { why: string; other: Parameters<typeof approvalHash>[0] }[] = [
    { why: 'the target value changes (a new commit asks for more)', other: { ...base, changes: [{ ...mem, to: 2 ** 32 }, cpu] } },
    { why: 'the starting value moved (the pool drifted since the approval)', other: { ...base, changes: [{ ...mem, from: 1 }, cpu] } },
    { why: 'the same change on another resource', other: { ...base, id: 'update:VM/web02' } },
    { why: 'a change is added', other: { ...base, changes: [mem, cpu, { path: 'spec.tags', from: [], to: ['a'], disruption: 'none' }] } },
  ];
  it.each(different)('changes when $why', ({ other }) => {
    expect(approvalHash(other)).not.toBe(approvalHash(base));
  });
});

describe('approval tokens', () => {
  it('an annotation may list several approvals, separated by commas, spaces or newlines', () => {
    expect(approvalTokens('abc123def456, delete:VM/old\n  update:VM/web01')).toEqual([
      'abc123def456',
      'delete:VM/old',
      'update:VM/web01',
    ]);
  });

  it('are read from the resource’s manifest and from every Policy, but not from other manifests', () => {
    const state = desired(
      [policy('ops', {}, { 'xops.io/approve': 'from-policy' })],
      [
        rawDoc('VM', 'web01', { annotations: { 'xops.io/approve': 'from-own-manifest' } }),
        rawDoc('VM', 'web02', { annotations: { 'xops.io/approve': 'from-neighbour' } }),
      ],
    );
    expect([...approvalsFor(state, 'VM/web01', ['from-context'])].sort()).toEqual([
      'from-context',
      'from-own-manifest',
      'from-policy',
    ]);
  });
});

describe('snapshotName', () => {
  it('is xops-pre-<action id>-<UTC time>, safe to type and to glob', () => {
    expect(snapshotName({ id: 'update:VM/web01' }, new Date('2025-03-08T02:00:05.123Z'))).toBe(
      'xops-pre-update-VM-web01-20250308T020005Z',
    );
  });
  it('keeps the detail of an action id, so two actions on one VM get distinct names', () => {
    const at = new Date('2025-03-08T02:00:00Z');
    expect(snapshotName({ id: 'delete:VM/db:disk-data' }, at)).toBe('xops-pre-delete-VM-db-disk-data-20250308T020000Z');
  });
});

// The same reading as the manifests loader: an admission rule must never disagree with it about a size.
describe('sizeInBytes', () => {
  const cases: { written: unknown; bytes: number | undefined; why: string }[] = [
    { written: 1024, bytes: 1024, why: 'a number is bytes' },
    { written: '512MiB', bytes: 512 * 2 ** 20, why: 'binary units, as manifests write them' },
    { written: '20 GiB', bytes: 20 * 2 ** 30, why: 'a space before the unit is fine' },
    { written: '1.5TiB', bytes: 1.5 * 2 ** 40, why: 'fractions' },
    { written: '100GB', bytes: 100e9, why: 'decimal units are decimal' },
    { written: '2G', bytes: 2e9, why: 'a bare decimal prefix, as Kubernetes quantities write it' },
    { written: '64 parsecs', bytes: undefined, why: 'an unknown unit is not a size' },
    { written: -1, bytes: undefined, why: 'a negative size is not a size' },
    { written: true, bytes: undefined, why: 'a boolean is not a size' },
  ];
  it.each(cases)('$written: $why', ({ written, bytes }) => {
    expect(sizeInBytes(written)).toBe(bytes);
  });
});
