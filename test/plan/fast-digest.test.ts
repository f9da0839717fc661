/**
 * The digest a saved plan keeps per object read (`plan.observed.objects`): a stale check compares it
 * with the pool's object later, so equal data must digest the same and any change a stale check must
 * see must change it.
 */
import { describe, expect, it } from 'vitest';
import { fastFieldsDigest, fastTextDigest } from '../../src/plan/fast-digest.js';

const FIELDS = ['name_label', 'VBDs', 'other_config', 'virtual_size', 'shared'];
const digest = (rec: Record<string, unknown>) => fastFieldsDigest(rec, FIELDS);
const base = { name_label: 'web01', VBDs: ['OpaqueRef:a', 'OpaqueRef:b'], other_config: { 'xops.managed': 'VM/web01', team: 'shop' }, virtual_size: 10 * 2 ** 30, shared: false };

describe('fastFieldsDigest', () => {
  it('is 16 hex digits, like the sha256 digests it replaced', () => {
    expect(digest(base)).toMatch(/^[0-9a-f]{16}$/);
  });

  const same: { why: string; other: Record<string, unknown> }[] = [
    { why: 'other_config is a map: the order XAPI sends its keys in carries no meaning', other: { ...base, other_config: { team: 'shop', 'xops.managed': 'VM/web01' } } },
    { why: 'fields the planner does not read (metrics, allowed_operations) never make a plan stale', other: { ...base, uuid: 'x', allowed_operations: ['start'] } },
    { why: 'an undefined map member is absent, as in JSON', other: { ...base, other_config: { ...base.other_config, gone: undefined } } },
  ];
  it.each(same)('stays the same when $why', ({ other }) => {
    expect(digest(other)).toBe(digest(base));
  });

  const different: { why: string; other: Record<string, unknown> }[] = [
    { why: 'a name changed by one character', other: { ...base, name_label: 'web02' } },
    { why: 'a disk grew by 1 GiB (a number above 32 bits: its high half counts)', other: { ...base, virtual_size: 11 * 2 ** 30 } },
    { why: 'a disk grew by one byte (the low half counts)', other: { ...base, virtual_size: 10 * 2 ** 30 + 1 } },
    { why: 'the order of a list changed (VBDs, VIFs are ordered)', other: { ...base, VBDs: ['OpaqueRef:b', 'OpaqueRef:a'] } },
    { why: 'list items regrouped ("ab","c" vs "a","bc"): strings are framed by their length', other: { ...base, VBDs: ['OpaqueRef:', 'aOpaqueRef:b'] } },
    { why: 'a map value moved to another key', other: { ...base, other_config: { 'xops.managed': 'shop', team: 'VM/web01' } } },
    { why: 'a map member was added', other: { ...base, other_config: { ...base.other_config, 'xops.spec': 'abc' } } },
    { why: 'a field became absent', other: { ...base, shared: undefined } },
    { why: 'a boolean flipped', other: { ...base, shared: true } },
    { why: 'a value moved to another field', other: { ...base, name_label: undefined, shared: 'web01' } },
    { why: 'a number became the string of it', other: { ...base, virtual_size: String(10 * 2 ** 30) } },
  ];
  it.each(different)('changes when $why', ({ other }) => {
    expect(digest(other)).not.toBe(digest(base));
  });

  it('tells 100k distinct uuids apart (no collision among the objects of a large pool)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(fastFieldsDigest({ uuid: `vm-0000-0000-0000-${String(i).padStart(12, '0')}` }, ['uuid']));
    expect(seen.size).toBe(100_000);
  });
});

describe('fastTextDigest', () => {
  it('differs for texts that differ by one character, anywhere', () => {
    const text = '["vm-0000-0000-0000-000000000001","vm-0000-0000-0000-000000000002"]';
    const digests = new Set([text, ...Array.from(text, (_, i) => text.slice(0, i) + '#' + text.slice(i + 1))].map(fastTextDigest));
    expect(digests.size).toBe(text.length + 1);
  });
});
