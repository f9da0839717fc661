import { describe, expect, it } from 'vitest';
import { planAnswerChunks } from '../../src/controller/plan-answer-json.js';
import type { Plan } from '../../src/model/plan.js';

/** The answer as sent: its chunks' bytes, one after the other. */
const sent = (answer: unknown): Buffer => Buffer.concat(planAnswerChunks(answer as never).map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));

function plan(objects: Record<string, string>, note = 'web'): Plan {
  return {
    formatVersion: 1,
    createdAt: '2026-12-02T00:00:00.000Z',
    source: { path: 'm', commit: 'abc' },
    observed: { token: 't1', objects },
    // An action's own `objects` and strings that look like the stand-in are left as they are.
    actions: [{ id: `update:VM/${note}`, objects: [{ cls: 'VM', ref: 'OpaqueRef:1', uuid: 'u1' }], reason: 'xops-objects-0123 "objects"' }],
    refused: [],
    diagnostics: [{ severity: 'warning', code: 'x', message: `"xops-objects-" ${note}` }],
  } as unknown as Plan;
}

describe('the JSON of a plan answer', () => {
  it('is exactly JSON.stringify of it, with observed.objects frozen (reused) or not, for head and base', () => {
    const frozen = Object.freeze({ 'VM/u1': 'aa11', 'SR/u2': 'bb22', 'VM?name_label=web': 'cc33' });
    const answers = [
      { plan: plan(frozen) },
      { plan: plan({ 'VM/u9': 'dd44' }) },
      { plan: plan(frozen), base: { plan: plan({ 'VM/u1': 'ee55' }, 'base') } },
      { invalid: [{ severity: 'error', code: 'yaml', message: 'bad' }], base: { plan: plan(frozen) } },
      { plan: plan({}) },
      // Text beyond ASCII: lengths are counted in bytes.
      { plan: plan(Object.freeze({ 'VM/ü': 'ff66' }), 'ünïcødé ✓') },
    ];
    for (const answer of answers) {
      // Twice: the second time the frozen objects' text comes from the cache.
      expect(sent(answer).toString()).toBe(JSON.stringify(answer));
      expect(sent(answer).equals(Buffer.from(JSON.stringify(answer)))).toBe(true);
    }
  });
});
