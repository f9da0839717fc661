import { describe, expect, it } from 'vitest';
import { SecretError, credentialDigest, digestMatches, resolveConfig, type SecretSource } from '../../src/secrets/index.js';
import { changedCredentials, credentialDigestKey } from '../../src/secrets/changes.js';

const source = (env: Record<string, string>, files: Record<string, string> = {}): SecretSource => ({
  env,
  baseDir: '/repo',
  readFile: async (p) => {
    if (p in files) return files[p]!;
    throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  },
});

describe('resolveConfig', () => {
  it('reads env and file secrets (dropping the trailing newline of a file) and keeps plain values', async () => {
    const r = await resolveConfig('SR/smb', {
      server: '//fs/share',
      username: { secretRef: { env: 'SMB_USER' } },
      password: { secretRef: { file: 'secrets/pw' } },
    }, source({ SMB_USER: 'svc' }, { '/repo/secrets/pw': 's3cret\n' }));
    expect(r.values).toEqual({ server: '//fs/share', username: 'svc', password: 's3cret' });
  });

  it('redact blanks every resolved secret out of a message (so XAPI errors echoing device_config are safe to print)', async () => {
    const r = await resolveConfig('SR/smb', { password: { secretRef: { env: 'PW' } } }, source({ PW: 'hunter2' }));
    expect(r.redact('SR.create failed: password=hunter2 rejected')).toBe('SR.create failed: password=*** rejected');
  });

  it.each([
    ['an unset variable', { secretRef: { env: 'MISSING' } }, 'environment variable MISSING is not set'],
    ['an unreadable file', { secretRef: { file: 'gone' } }, 'cannot read secret file /repo/gone (ENOENT)'],
    ['both env and file', { secretRef: { env: 'A', file: 'b' } }, 'sets both env and file'],
  ])('names the object and key, never a value, for %s', async (_why, value, message) => {
    const err = await resolveConfig('SR/smb', { password: value }, source({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretError);
    expect((err as Error).message).toContain('SR/smb: password: ');
    expect((err as Error).message).toContain(message);
  });
});

describe('credential digests', () => {
  it('match their value only, and two digests of one value differ (a salt each), neither holding the value', async () => {
    const a = await credentialDigest('hunter2');
    const b = await credentialDigest('hunter2');
    expect(a).not.toBe(b);
    expect(a).not.toContain('hunter2');
    expect(await digestMatches('hunter2', a)).toBe(true);
    expect(await digestMatches('hunter2', b)).toBe(true);
    expect(await digestMatches('hunter3', a)).toBe(false);
  });

  it.each([
    ['text that is no digest', 'sha256:abc'],
    ['a cost above the bound (a digest from the pool is untrusted: it must not make xops spend minutes)', 'scrypt$30$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a hash of the wrong length', 'scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ])('cannot say for %s', async (_why, digest) => {
    expect(await digestMatches('hunter2', digest)).toBeUndefined();
  });
});

describe('changedCredentials', () => {
  const use = (address: string, env: string) => ({ address, path: 'spec.deviceConfig.password', ref: { env } });
  it('lists a credential whose value no longer matches its stored digest, and only that one', async () => {
    const key = credentialDigestKey('spec.deviceConfig.password');
    const same = await credentialDigest('same-value');
    const stored: Record<string, Record<string, string>> = {
      'SR/same': { [key]: same },
      'SR/changed': { [key]: await credentialDigest('old-value') },
      'SR/unreadable': { [key]: same },
      'SR/no-digest': {},
    };
    const changed = await changedCredentials(
      [use('SR/same', 'A'), use('SR/changed', 'B'), use('SR/unreadable', 'UNSET'), use('SR/no-digest', 'A'), { ...use('SR/refused', 'B'), notCredential: 'not a credential key' }],
      (a) => stored[a],
      source({ A: 'same-value', B: 'new-value' }),
    );
    // An unreadable secret or a missing digest cannot be judged: left out, never guessed as changed.
    expect([...changed]).toEqual(['SR/changed#spec.deviceConfig.password']);
  });
});
