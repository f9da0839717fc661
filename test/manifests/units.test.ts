import { describe, expect, it } from 'vitest';
import { parseDuration, parseSize } from '../../src/manifests/units.js';
import { cronProblem } from '../../src/manifests/cron.js';

describe('parseSize', () => {
  it.each([
    ['plain integers are bytes', 1073741824, 1073741824],
    ['a digit string is bytes too', '4096', 4096],
    ['MiB is a power of 1024', '512MiB', 512 * 2 ** 20],
    ['Gi without B is the Kubernetes spelling of GiB', '20Gi', 20 * 2 ** 30],
    ['GB is decimal (10^9), like a disk label', '20GB', 20e9],
    ['G is decimal as well', '4G', 4e9],
    ['fractions are exact when they come to whole bytes', '1.5TiB', 1649267441664],
    ['a space before the unit is fine', '2 GiB', 2 * 2 ** 30],
    ['explicit B', '100B', 100],
  ])('%s: %s', (_why, input, bytes) => {
    expect(parseSize(input)).toEqual({ ok: true, value: bytes });
  });

  it.each([
    ['a fraction of a byte', '0.3KiB'],
    ['an unknown unit', '2 gigs'],
    ['a negative number', -1],
    ['more than JavaScript counts exactly', '9000PiB'],
  ])('refuses %s', (_why, input) => {
    expect(parseSize(input).ok).toBe(false);
  });
});

describe('parseDuration', () => {
  it.each([
    ['seconds as a number', 90, 90],
    ['hours', '2h', 7200],
    ['combined units', '1h30m', 5400],
    ['days', '1d', 86400],
  ])('%s', (_why, input, seconds) => {
    expect(parseDuration(input)).toEqual({ ok: true, value: seconds });
  });

  it('refuses words', () => expect(parseDuration('2 hours').ok).toBe(false));
});

describe('cronProblem', () => {
  it.each(['0 2 * * SUN', '*/15 * * * *', '0 22 * * 1-5', '30 1 1,15 JAN-MAR *', '0 0 * * 7'])('accepts %s', (expr) => {
    expect(cronProblem(expr)).toBeUndefined();
  });

  it.each([
    ['six fields (seconds) are not cron as windows use it', '0 0 2 * * *', /five fields/],
    ['hour 24 does not exist', '0 24 * * *', /hour '24'/],
    ['ranges run forwards', '0 5-1 * * *', /backwards/],
    ['a step of zero never fires', '*/0 * * * *', /step/],
    ['macros are not supported', '@daily', /five fields/],
    ['unknown weekday name', '0 2 * * SUNDAY', /day of week/],
  ])('%s', (_why, expr, message) => {
    expect(cronProblem(expr)).toMatch(message);
  });
});
