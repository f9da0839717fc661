/**
 * A commit is untrusted input: its secretRefs may name only what the operator's configuration allows
 * (secrets.dir, secrets.envPrefix), only on keys that hold credentials, and never xops' own
 * credentials. Checked at validation (one line per refusal, at file:line:col) and again when the
 * secret is read at apply time, where every refusal reads the same so paths cannot be probed.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig, SECRET_UNAVAILABLE, XOPS_CREDENTIAL_ENV, type SecretSource } from '../../src/secrets/index.js';
import { processSecretSource } from '../../src/secrets/index.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/src/cli.js');
const work = mkdtempSync(join(tmpdir(), 'xops-hostile-secrets-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const passwordFile = join(work, 'xapi-password');
writeFileSync(passwordFile, 'xops\n');
const secretsDir = join(work, 'secrets');
mkdirSync(secretsDir);
writeFileSync(join(secretsDir, 'smb'), 'hunter2\n');
const config = join(work, 'config.yaml');
writeFileSync(config, `apiVersion: xops/v1\nkind: ControllerConfig\nsecrets:\n  dir: ${secretsDir}\n  envPrefix: POOL_SECRET_\n`);

function smb(name: string, password: string, extra = ''): string {
  return [
    'apiVersion: xops/v1', 'kind: SR', 'metadata:', `  name: ${name}`, 'spec:', '  type: smb', '  deviceConfig:',
    '    server: //files/share', '    username: svc', `    password: ${password}`, extra, '',
  ].join('\n');
}

async function validate(files: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const dir = mkdtempSync(join(work, 'repo-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  try {
    await run(process.execPath, [CLI, 'validate', dir, '--offline', '--config', config, '--password-file', passwordFile], { env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe('secretRefs a commit may not make', () => {
  it.each([
    ['a host file outside the secrets folder', '{secretRef: {file: /proc/self/environ}}', "secretRef.file '/proc/self/environ' is refused: secret files must be inside the operator's secrets folder"],
    ["xops' own XAPI password file", `{secretRef: {file: ${passwordFile}}}`, 'is refused: secret files must be inside'],
    ['a path escaping the folder with ..', '{secretRef: {file: ../xapi-password}}', "secret file '../xapi-password' leaves the secrets folder"],
    ['an unrelated environment variable', '{secretRef: {env: HOME}}', "secretRef.env 'HOME' is refused: the operator allows only variables starting with POOL_SECRET_"],
    ["xops' own password variable", '{secretRef: {env: XOPS_XAPI_PASSWORD}}', "secretRef.env 'XOPS_XAPI_PASSWORD' names one of xops' own credentials"],
  ])('refuses %s, at its line, and exits 1', async (_why, ref, message) => {
    const { code, stderr } = await validate({ 'sr.yaml': smb('s', ref) });
    expect(code).toBe(1);
    const line = stderr.split('\n')[0]!;
    expect(line).toMatch(/^.*sr\.yaml:10:\d+: SR\/s: spec\.deviceConfig\.password\.secretRef\.(file|env): /);
    expect(line).toContain(message);
  });

  it('refuses a secretRef on a key that holds no credential (it could only smuggle a file into the pool)', async () => {
    const { code, stderr } = await validate({ 'sr.yaml': smb('s', '{secretRef: {env: POOL_SECRET_X}}', '    server2: x').replace('server: //files/share', 'server: {secretRef: {file: smb}}') });
    expect(code).toBe(1);
    expect(stderr).toContain('SR/s: spec.deviceConfig.server: deviceConfig.server does not hold a credential for a smb SR, so it cannot be a secretRef (smb: password)');
  });

  it('accepts what the operator allows', async () => {
    expect((await validate({ 'a.yaml': smb('a', '{secretRef: {file: smb}}'), 'b.yaml': smb('b', '{secretRef: {env: POOL_SECRET_SMB}}') })).code).toBe(0);
  });
});

describe('reading a secret at apply time under the rules', () => {
  const rules = { dir: secretsDir, envPrefix: 'POOL_SECRET_', forbiddenFiles: [passwordFile], forbiddenEnv: XOPS_CREDENTIAL_ENV };
  const source: SecretSource = { ...processSecretSource(secretsDir), env: { POOL_SECRET_SMB: 'from-env', HOME: '/root' }, rules };
  const read = (ref: { env?: string; file?: string }) => resolveConfig('SR/s', { password: { secretRef: ref } }, source);

  it('reads files inside the folder (relative to it) and prefixed variables', async () => {
    expect((await read({ file: 'smb' })).values['password']).toBe('hunter2');
    expect((await read({ env: 'POOL_SECRET_SMB' })).values['password']).toBe('from-env');
  });

  it('follows symlinks before judging: a link inside the folder pointing out is refused', async () => {
    symlinkSync(passwordFile, join(secretsDir, 'innocent'));
    await expect(read({ file: 'innocent' })).rejects.toThrow(`SR/s: password: ${SECRET_UNAVAILABLE}`);
  });

  it('says the same for a missing file, a refused file and a refused variable: nothing to probe', async () => {
    const messages = await Promise.all(
      [{ file: 'does-not-exist' }, { file: '/etc/hostname' }, { file: '/no/such/path' }, { env: 'HOME' }, { env: 'POOL_SECRET_UNSET' }].map((ref) =>
        read(ref).then(() => 'read', (e: Error) => e.message),
      ),
    );
    expect(new Set(messages)).toEqual(new Set([`SR/s: password: ${SECRET_UNAVAILABLE}`]));
  });
});
