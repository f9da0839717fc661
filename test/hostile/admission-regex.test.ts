/**
 * A Policy is repository content: its `pattern`s must not be able to stall the controller. They run
 * on RE2 (linear time), so the classic catastrophic pattern `^(a+)+$` against 30,000 `a`s and a `!`
 * is answered at once (with a backtracking engine it would not finish), and a pattern RE2 cannot
 * run in linear time is refused as a Policy error naming the rule, never run.
 */
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import type { AdmissionRule } from '../../src/model/desired.js';
import { checkAdmission } from '../../src/policy/admission.js';
import { desired, policy, rawDoc } from '../policy/helpers.js';

function rule(pattern: string): AdmissionRule {
  return {
    name: 'description-shape',
    match: { kinds: ['VM'] },
    require: { properties: { spec: { properties: { description: { pattern } } } } },
    severity: 'deny',
    message: 'descriptions must be one word',
  };
}

describe('admission patterns', () => {
  it('run in linear time: a catastrophic-backtracking pattern on a crafted value is a plain deny', () => {
    const vm = rawDoc('VM', 'web', { spec: { description: `${'a'.repeat(30_000)}!` } });
    const problems = checkAdmission(desired([policy('shape', { admission: [rule('^(a+)+$')] })], [vm]));
    expect(problems.map((d) => [d.severity, d.code, d.address])).toEqual([['error', 'admission', 'VM/web']]);
    expect(problems[0].message).toMatch(/descriptions must be one word \(Policy\/shape rule description-shape\): must match pattern/);
  });

  it('still match what they should (ECMAScript syntax: classes, anchors, escapes)', () => {
    const ok = rawDoc('VM', 'ok', { spec: { description: 'web-01' } });
    const bad = rawDoc('VM', 'bad', { spec: { description: 'web 01' } });
    const problems = checkAdmission(desired([policy('shape', { admission: [rule('^[a-z]+-\\d{2}$')] })], [ok, bad]));
    expect(problems.map((d) => d.address)).toEqual(['VM/bad']);
  });

  it('refuse a pattern with a backreference or lookahead as a Policy error, naming the rule', () => {
    for (const pattern of ['^(a)\\1$', '^(?=a)a$']) {
      const vm = rawDoc('VM', 'web', { spec: { description: 'aa' } });
      const problems = checkAdmission(desired([policy('shape', { admission: [rule(pattern)] })], [vm]));
      expect(problems).toHaveLength(1);
      expect(problems[0].code).toBe('policy');
      expect(formatDiagnostic(problems[0])).toContain(`rule description-shape: require is not a usable JSON Schema: pattern ${JSON.stringify(pattern)} cannot run in linear time`);
      expect(formatDiagnostic(problems[0]).split('\n')).toHaveLength(1);
    }
  });
});
