/**
 * Credentials in a Git URL (`https://user:token@host/repo`) never reach a log line, /status or an
 * error: the user stays readable, the password is masked, and a bare token in the user part is
 * masked whole.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GitSource } from '../../src/source/git-source.js';
import { redactUrl } from '../../src/source/git-text.js';
import { SourceError } from '../../src/source/types.js';

describe('credentials in Git URLs', () => {
  it.each([
    ['https://user:token@host/repo', 'https://user:***@host/repo'],
    ['https://ghp_abc123@github.example/org/repo.git', 'https://***@github.example/org/repo.git'],
    ['https://user:p@ss@host/repo', 'https://user:***@host/repo'],
    ["fatal: unable to access 'https://ci:s3cret@git.example/x.git/': refused", "fatal: unable to access 'https://ci:***@git.example/x.git/': refused"],
    ['two: http://a:b@h1/x and ssh://c:d@h2/y', 'two: http://a:***@h1/x and ssh://c:***@h2/y'],
    ['https://host/repo', 'https://host/repo'],
    ['git@github.example:org/repo.git', 'git@github.example:org/repo.git'],
  ])('%s → %s', (raw, shown) => {
    expect(redactUrl(raw)).toBe(shown);
  });

  it('are masked in the source description (/status) and in its fetch errors', async () => {
    const cacheRoot = mkdtempSync(join(tmpdir(), 'xops-redact-'));
    const source = new GitSource({ url: 'http://deploy:s3cret-token@127.0.0.1:9/repo.git', branch: 'main', cacheRoot, timeoutMs: 5000 });
    expect(source.description).toBe('git http://deploy:***@127.0.0.1:9/repo.git @ main');
    const failure = (await source.sync().catch((e: unknown) => e)) as Error;
    expect(failure).toBeInstanceOf(SourceError);
    expect(failure.message).not.toContain('s3cret-token');
    expect(failure.message).toMatch(/^http:\/\/deploy:\*\*\*@127\.0\.0\.1:9\/repo\.git: fetch main failed: /);
    expect(failure.message.split('\n')).toHaveLength(1);
    // A logger prints the cause chain too: it is masked as well.
    const cause = failure.cause as Error;
    expect(`${cause.message}\n${cause.stack}`).not.toContain('s3cret-token');
    rmSync(cacheRoot, { recursive: true, force: true });
  });
});
