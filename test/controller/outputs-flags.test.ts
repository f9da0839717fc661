import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/cli/errors.js';
import { historyFileFor, outputsFromArgs } from '../../src/cli/outputs-flags.js';
import { run } from '../../src/cli/run-command.js';
import { GitSource } from '../../src/source/git-source.js';
import { LocalSource } from '../../src/source/local-source.js';

const dir = mkdtempSync(join(tmpdir(), 'xops-outputs-flags-'));
writeFileSync(join(dir, 'empty'), '\n');
writeFileSync(join(dir, 'token'), 'tok-123\n');
writeFileSync(join(dir, 'key'), 'hmac-key\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const local = new LocalSource({ dir });
const GITHUB = 'https://github.com/acme/infra.git';

// Mistakes an operator makes with the notification flags: each one clear line, before anything connects.
const mistakes: { why: string; argv: string[]; message: RegExp }[] = [
  { why: 'an unknown notification format', argv: ['--notify-url', 'https://hooks.example/x', '--notify-format', 'discord'], message: /--notify-format must be one of generic, slack, teams/ },
  { why: 'a secret without a URL', argv: ['--notify-secret-file', join(dir, 'key')], message: /need --notify-url/ },
  { why: 'a notification URL that is not http(s)', argv: ['--notify-url', 'ftp://hooks.example/x'], message: /--notify-url must be an http\(s\) URL/ },
  { why: 'an empty HMAC key (anyone could sign)', argv: ['--notify-url', 'https://hooks.example/x', '--notify-secret-file', join(dir, 'empty')], message: /is empty/ },
  { why: 'an unknown Git host', argv: ['--commit-status', 'bitbucket', '--commit-status-token-file', join(dir, 'token')], message: /--commit-status must be one of github, gitlab/ },
  { why: 'commit statuses without a token', argv: ['--commit-status', 'github'], message: /needs --commit-status-token-file/ },
  { why: 'a token without a provider', argv: ['--commit-status-token-file', join(dir, 'token')], message: /needs --commit-status github\|gitlab/ },
  { why: 'a repository whose project cannot be told', argv: ['--commit-status', 'github', '--commit-status-token-file', join(dir, 'token')], message: /cannot tell the github project from --repo/ },
];

describe('xops run notification flags', () => {
  it.each(mistakes)('refuses $why', async (m) => {
    const failure = await run(['--repo', dir, ...m.argv]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as Error).message).toMatch(m.message);
    // A flag's file content (a secret) never appears in the error.
    expect((failure as Error).message).not.toMatch(/tok-123|hmac-key/);
  });

  it('reads the secrets from their files and tells the project from the repository URL', async () => {
    const values = {
      'notify-url': 'https://hooks.slack.com/services/T/B/X',
      'notify-format': 'slack',
      'notify-secret-file': join(dir, 'key'),
      'commit-status': 'github',
      'commit-status-token-file': join(dir, 'token'),
      'commit-status-url': 'https://ghe.example/api/v3',
    };
    const out = await outputsFromArgs(values, local, GITHUB, 'https://pool.example');
    expect(out.notify).toEqual({ url: 'https://hooks.slack.com/services/T/B/X', format: 'slack', secret: 'hmac-key' });
    expect(out.commitStatus).toEqual({ provider: 'github', project: 'acme/infra', token: 'tok-123', baseUrl: 'https://ghe.example/api/v3' });
    const explicit = await outputsFromArgs({ 'commit-status': 'gitlab', 'commit-status-token-file': join(dir, 'token'), 'commit-status-project': '42' }, local, dir, 'https://pool.example');
    expect(explicit.commitStatus?.project).toBe('42');
  });

  it('keeps the history beside the Git cache, one file per source and pool', () => {
    const git = new GitSource({ url: GITHUB, cacheDir: join(dir, 'cache', 'abc') });
    expect(historyFileFor(git, 'https://pool-a')).toMatch(new RegExp(`^${join(dir, 'cache')}/abc\\.[0-9a-f]{8}\\.history\\.json$`));
    expect(historyFileFor(git, 'https://pool-b')).not.toBe(historyFileFor(git, 'https://pool-a'));
    // A plain folder's history goes to the user's cache folder, never into the folder it watches.
    expect(historyFileFor(local, 'https://pool-a')).toMatch(/\/xops\/[0-9a-f]{16}\.[0-9a-f]{8}\.history\.json$/);
    expect(historyFileFor(local, 'https://pool-a')!.startsWith(dir)).toBe(false);
    expect(historyFileFor(new LocalSource({ dir: join(dir, 'other') }), 'https://pool-a')).not.toBe(historyFileFor(local, 'https://pool-a'));
  });
});
