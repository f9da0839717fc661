import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadControllerConfig, parseControllerConfig } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'xops-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = 'apiVersion: xops/v1\nkind: ControllerConfig\n';

describe("the operator's configuration", () => {
  it('defaults to every limit off, env secrets with the XOPS_SECRET_ prefix only, no secret files', () => {
    const c = defaultConfig();
    expect(c.limits).toEqual({ adopt: false, prune: false, destructive: false });
    expect(c.secrets.envPrefix).toBe('XOPS_SECRET_');
    expect(c.secrets.dir).toBeUndefined();
    expect(c.approvals.sameChange).toBe(false);
  });

  it('reads every section and resolves paths against the file\'s folder', () => {
    const c = parseControllerConfig(
      HEAD +
        'limits: {adopt: true, prune: true}\n' +
        'secrets:\n  dir: secrets\n  envPrefix: POOL_\n  credentialKeys: {nfs: [password]}\n' +
        'protected:\n  - {uuid: 0a1b}\n  - {tag: keep, class: VM}\n' +
        'git: {verify: {allowedSigners: signers}}\n' +
        'http: {tokenFile: /etc/xops/token, webhookListen: "0.0.0.0:9421"}\n',
      '/etc/xops/config.yaml',
    );
    expect(c.limits).toEqual({ adopt: true, prune: true, destructive: false });
    expect(c.secrets.dir).toBe('/etc/xops/secrets');
    expect(c.secrets.envPrefix).toBe('POOL_');
    expect(c.secrets.credentialKeys['nfs']).toEqual(['password']);
    expect(c.secrets.credentialKeys['smb']).toEqual(['password']);
    expect(c.protected).toEqual([{ uuid: '0a1b' }, { tag: 'keep', class: 'VM' }]);
    expect(c.git.verify).toEqual({ allowedSigners: '/etc/xops/signers' });
    expect(c.http).toEqual({ tokenFile: '/etc/xops/token', webhookListen: '0.0.0.0:9421' });
  });

  it.each([
    ['an unknown field, at its key', HEAD + 'limits:\n  adpot: true\n', 'c.yaml:4:3: limits.adpot: unknown field'],
    ['a wrong type, at its value', HEAD + 'limits:\n  prune: yes please\n', 'c.yaml:4:10: limits.prune: must be boolean'],
    ['the wrong kind', 'apiVersion: xops/v1\nkind: Policy\n', 'c.yaml:2:7: kind: must be "ControllerConfig"'],
    ['a missing kind', 'apiVersion: xops/v1\n', "c.yaml:1:1: (document): missing required field 'kind'"],
    ['YAML that does not parse', HEAD + 'limits: [\n', 'c.yaml:'],
    ['two documents', HEAD + '---\n' + HEAD, 'c.yaml: expected one YAML document (kind: ControllerConfig), found 2'],
  ])('refuses %s with one line naming file, line and field', (_why, text, message) => {
    let err: unknown;
    try {
      parseControllerConfig(text, 'c.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message.startsWith(message)).toBe(true);
    expect((err as Error).message).not.toContain('\n');
  });

  it('reports a missing or oversized file in one line', async () => {
    await expect(loadControllerConfig(join(dir, 'nope.yaml'))).rejects.toThrow(`${join(dir, 'nope.yaml')}: no such file`);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, HEAD + '#'.repeat(2 * 1024 * 1024));
    await expect(loadControllerConfig(big)).rejects.toThrow(/bytes; a configuration is at most 1048576$/);
  });
});
