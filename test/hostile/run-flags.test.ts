import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run-command.js';
import { UserError } from '../../src/cli/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'xops-run-trust-'));
writeFileSync(join(dir, 'short-token'), 'abc\n');
writeFileSync(join(dir, 'verify.yaml'), `apiVersion: xops/v1\nkind: ControllerConfig\ngit:\n  verify: {allowedSigners: ${join(dir, 'allowed')}}\n`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each is refused before anything connects or listens: a weaker setup than asked for never starts.
const cases: { why: string; argv: string[]; message: RegExp }[] = [
  { why: 'a guessable bearer token', argv: ['--repo', dir, '--token-file', join(dir, 'short-token')], message: /--token-file: .* at least 16 characters/ },
  { why: 'a malformed webhook listen address', argv: ['--repo', dir, '--webhook-listen', 'public'], message: /--webhook-listen must be HOST:PORT/ },
  { why: 'signature verification asked for on a plain folder, which has no commits to verify', argv: ['--repo', dir, '--config', join(dir, 'verify.yaml')], message: /git\.verify .* must be a Git repository/ },
];

describe('xops run trust settings', () => {
  it.each(cases)('refuses $why', async (c) => {
    const failure = await run(c.argv).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as Error).message).toMatch(c.message);
  });
});
