import { describe, expect, it } from 'vitest';
import { SecretError, resolveConfig, type SecretSource } from '../../src/secrets/index.js';

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
