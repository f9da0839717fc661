/**
 * `match.names` globs come from Policies in the repository. They are matched without a regular
 * expression: `*a*a*…*b` against a name of `a`s, which takes a backtracking engine longer than any
 * timeout, is answered at once, and globs keep their meaning.
 */
import { describe, expect, it } from 'vitest';
import { globMatches } from '../../src/policy/index.js';

describe('policy name globs', () => {
  it('answer a glob that makes a backtracking engine take exponential time', () => {
    expect(globMatches(`${'*a'.repeat(30)}b`, 'a'.repeat(63))).toBe(false);
    expect(globMatches(`${'*a'.repeat(30)}*`, 'a'.repeat(63))).toBe(true);
  });

  it.each([
    ['web-*', 'web-01', true],
    ['web-*', 'db-01', false],
    ['*-01', 'web-01', true],
    ['w?b-0?', 'web-01', true],
    ['w?b', 'wb', false],
    ['*', '', true],
    ['', '', true],
    ['', 'x', false],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'axxbyy', false],
    ['*.prod', 'db.prod', true],
    ['db.prod', 'dbxprod', false],
    ['(web)+', '(web)+', true],
    ['a**b', 'ab', true],
    ['*ab', 'aab', true],
    ['*aab', 'aaab', true],
  ])('%s matches %s: %s', (glob, name, expected) => {
    expect(globMatches(glob, name)).toBe(expected);
  });
});
