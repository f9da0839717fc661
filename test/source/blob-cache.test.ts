import { describe, expect, it } from 'vitest';
import { BlobCache } from '../../src/source/blob-cache.js';

describe('BlobCache (Git blobs kept by object id)', () => {
  it('stays within its bytes, dropping the blobs used longest ago', () => {
    const cache = new BlobCache(100);
    const blob = (c: string) => Buffer.alloc(30, c);
    cache.set('a', blob('a'));
    cache.set('b', blob('b'));
    cache.set('c', blob('c'));
    // 'a' used again: 'b' is now the one used longest ago.
    expect(cache.get('a')?.toString()).toBe('a'.repeat(30));
    cache.set('d', blob('d'));
    expect(cache.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((k) => cache.get(k)?.[0])).toEqual([...'acd'].map((c) => c.charCodeAt(0)));
    // Larger than the whole cache: not kept, nothing else dropped for it.
    cache.set('huge', Buffer.alloc(101));
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.size).toBe(3);
  });
});
