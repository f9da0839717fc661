import { describe, expect, it } from 'vitest';
import { marksOwner } from '../../src/apply/ownership.js';
import { repoMatches } from '../../src/model/observed.js';

// The planner, apply and the controller's drift detection must agree on whose an object is, or a
// plan would propose changes that apply then refuses (or drift would be reported on a neighbour's VM).
describe('repository ownership of a marked object', () => {
  const cases: { why: string; mark: string | undefined; repo: string | undefined; ours: boolean }[] = [
    { why: 'same repository', mark: 'infra', repo: 'infra', ours: true },
    { why: 'another repository manages it', mark: 'other', repo: 'infra', ours: false },
    { why: 'marked before repository identities existed', mark: undefined, repo: 'infra', ours: true },
    { why: 'an empty mark written by hand means no repository, not a foreign one', mark: '', repo: 'infra', ours: true },
    { why: 'a run without an identity acts on any mark', mark: 'other', repo: undefined, ours: true },
  ];
  it.each(cases)('$why', ({ mark, repo, ours }) => {
    expect(repoMatches(mark, repo)).toBe(ours);
    expect(marksOwner('VM/web', mark, 'VM/web', repo)).toBe(ours);
  });

  it('apply still needs the object\'s own address, whatever the repository', () => {
    expect(marksOwner('VM/db', 'infra', 'VM/web', 'infra')).toBe(false);
  });
});
