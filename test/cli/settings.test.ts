import { describe, expect, it } from 'vitest';
import { defaultCacheRoot } from '../../src/cli/cache-dir.js';
import { connectionSettings } from '../../src/cli/connection.js';
import { errnoCodesInWords } from '../../src/cli/errno.js';
import { alignOptions } from '../../src/cli/usage.js';

describe('where xops run keeps its Git cache by default', () => {
  it('in $XDG_CACHE_HOME/xops, else ~/.cache/xops; a relative XDG_CACHE_HOME is ignored (XDG base directory rule)', () => {
    expect(defaultCacheRoot({ XDG_CACHE_HOME: '/var/cache/me' }, '/home/me')).toBe('/var/cache/me/xops');
    expect(defaultCacheRoot({ XDG_CACHE_HOME: 'relative' }, '/home/me')).toBe('/home/me/.cache/xops');
    expect(defaultCacheRoot({}, '/home/me')).toBe('/home/me/.cache/xops');
  });
});

describe('--timeout', () => {
  const base = { xapi: 'http://pool', user: 'root' };
  const env = { XOPS_XAPI_PASSWORD: 'x' };
  it('becomes the client\'s per-call timeout; bare numbers are seconds', async () => {
    expect((await connectionSettings({ ...base, timeout: '90s' }, env)).timeoutMs).toBe(90_000);
    expect((await connectionSettings({ ...base, timeout: '5' }, env)).timeoutMs).toBe(5_000);
    expect((await connectionSettings(base, env)).timeoutMs).toBeUndefined();
  });
  it('is bounded', async () => {
    await expect(connectionSettings({ ...base, timeout: '2h' }, env)).rejects.toThrow("--timeout must be between 1s and 1h, not '2h'");
  });
});

describe('messages', () => {
  it('a trailing errno code is put in words, as a folder when the message is about one', () => {
    expect(errnoCodesInWords("cannot read manifests folder 'x': ENOENT")).toBe("cannot read manifests folder 'x': no such folder");
    expect(errnoCodesInWords('cannot read secret file /run/s (EACCES)')).toBe('cannot read secret file /run/s (permission denied)');
    expect(errnoCodesInWords('odd: EWHATEVER')).toBe('odd: EWHATEVER');
  });
  it('option blocks are re-aligned to a column, continuation lines under the description', () => {
    const lines = alignOptions('  --a X        one\n                 more\n  --long-flag  two', 16).split('\n');
    expect(lines.map((l) => l.search(/(?<=\s)(one|more|two)$/))).toEqual([16, 16, 16]);
  });
});
