import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'xops test',
  GIT_AUTHOR_EMAIL: 'test@xops.invalid',
  GIT_COMMITTER_NAME: 'xops test',
  GIT_COMMITTER_EMAIL: 'test@xops.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * A working repository with a bare "remote" it pushes to, in a fresh temp dir: the shape a
 * controller meets in production (it only ever fetches from the remote).
 */
export class GitFixture {
  readonly root = mkdtempSync(join(tmpdir(), 'xops-git-'));
  readonly work = join(this.root, 'work');
  readonly remote = join(this.root, 'remote.git');
  readonly cacheRoot = join(this.root, 'cache');

  constructor(branch = 'main') {
    mkdirSync(this.work);
    git(this.root, 'init', '--quiet', '--bare', `--initial-branch=${branch}`, this.remote);
    git(this.work, 'init', '--quiet', `--initial-branch=${branch}`);
    git(this.work, 'remote', 'add', 'origin', this.remote);
  }

  write(files: Record<string, string>): void {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.work, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
  }

  symlink(path: string, target: string): void {
    const full = join(this.work, path);
    mkdirSync(dirname(full), { recursive: true });
    symlinkSync(target, full);
  }

  remove(path: string): void {
    rmSync(join(this.work, path), { recursive: true, force: true });
  }

  /** Commits everything and pushes the current branch; returns the commit id. */
  commit(message: string, opts: { push?: boolean; force?: boolean } = {}): string {
    git(this.work, 'add', '-A');
    git(this.work, 'commit', '--quiet', '--allow-empty', '-m', message);
    if (opts.push !== false) this.push(opts.force);
    return this.head();
  }

  push(force = false): void {
    git(this.work, 'push', '--quiet', ...(force ? ['--force'] : []), 'origin', 'HEAD');
  }

  head(): string {
    return git(this.work, 'rev-parse', 'HEAD');
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
