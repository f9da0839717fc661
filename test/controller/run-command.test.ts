import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run-command.js';
import { UserError } from '../../src/cli/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'xops-run-args-'));
writeFileSync(join(dir, 'empty-secret'), '\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each case is a mistake an operator makes on the command line; each must be one clear line
// before anything connects or listens.
const mistakes: { why: string; argv: string[]; message: RegExp }[] = [
  { why: 'a listen address without a port', argv: ['--repo', dir, '--listen', 'localhost'], message: /--listen must be HOST:PORT/ },
  { why: 'a port out of range', argv: ['--repo', dir, '--listen', '127.0.0.1:70000'], message: /--listen must be HOST:PORT/ },
  { why: 'an interval that is not a duration', argv: ['--repo', dir, '--interval', 'often'], message: /--interval: 'often' is not a duration/ },
  { why: 'a repo path that does not exist', argv: ['--repo', join(dir, 'nope')], message: /--repo: no such folder or Git URL/ },
  { why: 'a branch for a plain folder', argv: ['--repo', dir, '--branch', 'main'], message: /--branch needs a Git repository/ },
  { why: 'a manifests path leaving the repository', argv: ['--repo', dir, '--path', '../x'], message: /--path must be a folder inside/ },
  { why: 'an empty webhook secret (would accept anyone)', argv: ['--repo', dir, '--webhook-secret-file', join(dir, 'empty-secret')], message: /is empty/ },
  { why: 'a positional argument instead of --repo', argv: [dir], message: /unexpected argument/ },
  { why: 'both the embedded simulator and a real pool', argv: ['--repo', dir, '--sim', 'demo', '--xapi', 'http://pool'], message: /--sim starts its own pool/ },
  { why: 'an unknown log format', argv: ['--repo', dir, '--sim', 'demo', '--log-format', 'xml'], message: /--log-format must be text or json/ },
  { why: 'a simulator port that is not a number', argv: ['--repo', dir, '--sim', 'demo', '--sim-port', 'high'], message: /--sim-port must be a port number/ },
  { why: 'a simulator seed file that does not exist', argv: ['--repo', dir, '--sim', join(dir, 'no-seed.json'), '--sim-port', '0'], message: /--sim: no such seed file/ },
];

describe('xops run arguments', () => {
  it.each(mistakes)('refuses $why', async (m) => {
    const failure = await run(m.argv).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as Error).message).toMatch(m.message);
  });
});
