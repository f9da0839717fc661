/**
 * What a new operator types before any pool is involved: mistakes in flags and folders. Each
 * answer is one line on stderr that says what is wrong in words, and stdout stays for results.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, xops } from './helpers.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'xops-first-run-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A local port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.concurrent('flag mistakes are one line naming the command to ask for help', () => {
  it.each([
    { args: ['plan', '--bogus'], line: "xops: unknown option '--bogus' (see 'xops plan --help')" },
    { args: ['apply', '--yes=3'], line: "xops: option '--yes' takes no value (see 'xops apply --help')" },
    { args: ['validate', '--out'], line: "xops: option '--out' needs a value (see 'xops validate --help')" },
    { args: ['frobnicate'], line: "xops: unknown command 'frobnicate' (see 'xops --help')" },
    { args: ['--verbose', 'plan'], line: "xops: unknown option '--verbose' before the command (see 'xops --help')" },
    { args: ['export', '--out', 'json'], line: "xops: export writes manifests to a folder, not a format: use --dir DIR (refusing to create a folder named 'json')" },
  ])('xops $args.0 $args.1', async ({ args, line }) => {
    const { code, stdout, stderr } = await xops(args, { cwd: work });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.split('\n')).toEqual([line, '']);
  });
});

describe('local files and folders: errno codes in words', () => {
  it('a folder that does not exist, and a file given as the folder', async () => {
    const missing = await xops(['validate', join(work, 'nope'), '--offline']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.split('\n')[0]).toBe(`cannot read manifests folder '${join(work, 'nope')}': no such folder`);
    await writeFile(join(work, 'file.yaml'), 'x: 1\n');
    const notDir = await xops(['validate', join(work, 'file.yaml'), '--offline']);
    expect(notDir.stderr.split('\n')[0]).toBe(`cannot read manifests folder '${join(work, 'file.yaml')}': not a folder`);
  });

  it('a password file that is missing', async () => {
    const { code, stderr } = await xops(['plan', '--xapi', 'http://127.0.0.1:1', '--password-file', 'no-such-file'], { cwd: work });
    expect(code).toBe(1);
    expect(stderr).toBe('xops: --password-file: cannot read no-such-file: no such file\n');
  });
});

describe('validate says what it could not check', () => {
  it('an empty folder is a warning, not a quiet "valid: 0 manifests"', async () => {
    await mkdir(join(work, 'empty'));
    const { code, stdout, stderr } = await xops(['validate', 'empty', '--offline'], { cwd: work });
    expect(code).toBe(0);
    expect(stderr).toBe('warning: no manifests under empty (looked for *.yaml and *.yml files)\n');
    expect(stdout).toMatch(/^valid: 0 manifests in 0 files; 0 errors, 1 warning/);
  });

  it('offline, a reference no manifest declares is a warning naming it, at its line', async () => {
    await mkdir(join(work, 'typo'));
    await writeFile(
      join(work, 'typo', 'vm.yaml'),
      'apiVersion: xops/v1\nkind: VM\nmetadata: {name: a, labels: {owner: me}}\nspec:\n  template: Debian Bookworm 12\n  vcpus: 1\n  memory: 1GiB\n  networks:\n    - network: no-such-net\n',
    );
    const { code, stderr } = await xops(['validate', 'typo', '--offline'], { cwd: work });
    expect(code).toBe(0);
    expect(stderr).toContain("vm.yaml:9:16: VM/a: spec.networks[0].network: warning: network 'no-such-net' must exist in the pool; not checked offline\n");
    expect(stderr).toContain("VM/a: spec.template: warning: template 'Debian Bookworm 12' must exist in the pool; not checked offline\n");
  });

  it('--out json reports an unreachable pool as JSON too', async () => {
    const port = await closedPort();
    const { code, stdout, stderr } = await xops(['validate', 'examples', '--out', 'json', '--xapi', `http://127.0.0.1:${port}`], {
      env: cleanEnv({ XOPS_XAPI_PASSWORD: 'x' }),
    });
    expect(code).toBe(1);
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual({ ok: false, error: `cannot reach http://127.0.0.1:${port}: connection refused`, summary: null, diagnostics: [] });
  });
});

describe.concurrent('--help', () => {
  it.each([
    { command: 'run', column: 31 },
    // The other commands build their help the same way (alignOptions over their own and the connection options).
    { command: 'apply', column: 24 },
  ])("$command --help: every option's description starts in column $column", async ({ command, column }) => {
    const { code, stdout } = await xops([command, '--help']);
    expect(code).toBe(0);
    const columns = new Set(
      stdout
        .split('\n')
        .map((line) => /^ {2}(-\S.*?\s{2,})\S/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => m[1].length + 2),
    );
    expect([...columns]).toEqual([column]);
    expect(stdout).toContain('--timeout DURATION');
  });
});
