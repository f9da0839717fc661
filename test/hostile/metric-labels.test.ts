import { describe, expect, it } from 'vitest';
import { MAX_RESULT_LABELS, ResultLabels } from '../../src/controller/xapi-metrics.js';

describe('metric labels from what the pool answers', () => {
  it('keep known shapes, turn free text into other, and stop growing after a bounded number of codes', () => {
    const labels = new ResultLabels();
    expect(labels.of('success')).toBe('success');
    expect(labels.of('transport')).toBe('transport');
    expect(labels.of('HANDLE_INVALID')).toBe('HANDLE_INVALID');
    expect(labels.of('x"} evil{label="1')).toBe('other');
    expect(labels.of('A'.repeat(200))).toBe('other');
    // A hostile pool inventing a new error code per call cannot add a series per call.
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(labels.of(`INVENTED_${i}`));
    expect(seen.size).toBeLessThanOrEqual(MAX_RESULT_LABELS + 1);
    expect(seen.has('other')).toBe(true);
    expect(labels.of('HANDLE_INVALID')).toBe('HANDLE_INVALID');
  });
});
