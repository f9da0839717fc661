/**
 * The README's Quick start on a fresh clone leaves a working `xops` on PATH, with no registry
 * access (npm's registry points at a closed port): the install step's commands are read from the
 * README itself, so the two cannot drift apart.
 *
 * Kept fast: `npm ci` is stood in for by linking this checkout's node_modules into the clone and
 * copying the dist/ that `npm test` just built (`npm ci` is install + `prepare`, the build, which
 * the rest of the suite exercises); `npm link` then runs as written, without lifecycle scripts.
 */
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const run = promisify(execFile);
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'xops-quickstart-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The commands of the first code block under "## Quick start", without their comments. */
function quickStartCommands(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1];
  return block
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('README Quick start', () => {
  it('npm ci && npm link on a fresh clone gives an `xops` that runs from a clean PATH', async () => {
    const clone = join(work, 'xops');
    await run('git', ['clone', '-q', ROOT, clone]);
    const commands = quickStartCommands(await readFile(join(clone, 'README.md'), 'utf8'));
    expect(commands).toEqual(['npm ci', 'npm link', 'xops --help']);

    // `npm ci`, from what this checkout already installed and built.
    await symlink(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    await cp(join(ROOT, 'dist'), join(clone, 'dist'), { recursive: true });

    const prefix = join(work, 'global');
    const home = join(work, 'home');
    const path = `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`;
    const npmEnv = {
      PATH: path,
      HOME: home,
      npm_config_prefix: prefix,
      npm_config_cache: join(work, 'npm-cache'),
      npm_config_registry: `http://127.0.0.1:${await closedPort()}/`,
      npm_config_fetch_retries: '0',
      npm_config_ignore_scripts: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    };
    const [npm, link] = commands[1].split(' ');
    await run(npm, [link], { cwd: clone, env: npmEnv });

    // A new shell: nothing but the PATH the user has.
    const help = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn('xops', ['--help'], { cwd: work, env: { PATH: path, HOME: home } });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout }));
    });
    expect(help.code).toBe(0);
    expect(help.stdout.split('\n')[0]).toBe('usage: xops <command> [options]');
    expect(help.stdout).toContain('  run        the controller: keep pools in the state Git declares');
  });
});
