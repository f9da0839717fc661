/**
 * The controller's files by digest (src/controller/file-store.ts): what `plan --server` clients name
 * instead of sending. A digest is the store's own SHA-256 of bytes it holds, a reconcile's files are
 * digested only when a request needs them, and the store stays within its bytes.
 */
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/controller/file-store.js';
import { fileDigest } from '../../src/manifests/file-digest.js';

const file = (text: string) => ({ path: `${text}.yaml`, content: Buffer.from(text) });

describe('FileStore', () => {
  it('answers a digest with the bytes it was computed from, and nothing for another', () => {
    const store = new FileStore();
    const a = Buffer.from('kind: VM\n');
    expect(store.add(a)).toBe(fileDigest(a));
    expect(store.get(fileDigest(a))).toBe(a);
    expect(store.get(fileDigest(Buffer.from('kind: VM \n')))).toBeUndefined();
  });

  it("finds a reconcile's files once a request names one, keeping the newest revision offered", () => {
    const store = new FileStore();
    const old = [file('a'), file('b')];
    const current = [file('a'), file('c')];
    store.addAll(old);
    store.addAll(current);
    expect(store.size).toBe(0); // nothing digested yet
    expect(store.get(fileDigest(Buffer.from('c')))).toBe(current[1]!.content);
    expect(store.get(fileDigest(Buffer.from('b')))).toBeUndefined();
  });

  it('drops the least recently used files beyond its bound', () => {
    const store = new FileStore(13);
    const digests = ['aaaa', 'bbbb', 'cccc'].map((t) => store.add(Buffer.from(t)));
    store.get(digests[0]!);
    store.add(Buffer.from('dddd'));
    expect(store.size).toBeLessThanOrEqual(13);
    expect(store.get(digests[0]!)).toBeDefined();
    expect(store.get(digests[1]!)).toBeUndefined();
  });
});
