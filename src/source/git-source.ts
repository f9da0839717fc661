import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { gitEnvironment } from './git-process.js';
import { gitMessage, redactUrl } from './git-text.js';
import type { RepositoryLimits } from './limits.js';
import { readManifestTree } from './git-tree.js';
import { BlobCache } from './blob-cache.js';
import { normaliseSubfolder } from './paths.js';
import { SourceError, type ManifestSource, type SourceSnapshot } from './types.js';
import type { GitVerify } from '../config/types.js';

/** Configuration of a git source. Only `url` is required. */
export interface GitSourceOptions {
  /** A remote URL (`https://…`, `ssh://…`, `git@host:repo`) or a local repository path. */
  url: string;
  /** Branch to follow; the remote's HEAD (its default branch) when omitted. */
  branch?: string;
  /** Sub-folder of the repository holding the manifests; the root when omitted. */
  path?: string;
  /** Where the bare cache repository lives; default `<cacheRoot>/<sha256(url) prefix>`. */
  cacheDir?: string;
  /** Parent of the default cache folder; default `.xops-cache` in the working directory. */
  cacheRoot?: string;
  /** A git command making no progress for this long is killed; default 120 s. */
  timeoutMs?: number;
  /** What one commit may hold (files, bytes, symlink expansion); defaults in `RepositoryLimits`. */
  limits?: Partial<RepositoryLimits>;
  /** Only commits git's own `verify-commit` accepts with these trusted keys are read (see verifyCommit). */
  verify?: GitVerify;
}

/** The local ref the fetched branch is stored under, so the cache has exactly one thing to resolve. */
const SOURCE_REF = 'refs/xops/source';


/**
 * A Git repository at a branch and sub-folder, kept in a bare cache repository. `sync()` fetches the
 * branch (force-pushes included: the refspec is forced) and reads the manifests at the fetched
 * commit straight from the object store (`ls-tree` + `cat-file --batch`). Nothing is ever checked
 * out, so a failed fetch or read leaves the cache exactly as it was and the last good commit
 * readable.
 */
export class GitSource implements ManifestSource {
  readonly description: string;
  readonly url: string;
  readonly branch: string | undefined;
  readonly subfolder: string;
  readonly cacheDir: string;
  private readonly timeoutMs: number;
  private readonly limits: Partial<RepositoryLimits>;
  private readonly verify: GitVerify | undefined;
  private git: SimpleGit | undefined;
  /** The blobs of the commits read so far: a commit changing one file reads one blob. */
  private readonly blobs = new BlobCache();

  constructor(options: GitSourceOptions) {
    this.url = isRemoteUrl(options.url) ? options.url : resolve(options.url);
    this.branch = options.branch;
    const subfolder = normaliseSubfolder(options.path);
    if (subfolder === undefined) throw new SourceError(options.path ?? '', 'the manifests folder must stay inside the repository');
    this.subfolder = subfolder;
    const digest = createHash('sha256').update(this.url).digest('hex').slice(0, 16);
    this.cacheDir = resolve(options.cacheDir ?? join(options.cacheRoot ?? '.xops-cache', digest));
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.limits = options.limits ?? {};
    this.verify = options.verify;
    this.description = `git ${redactUrl(this.url)} @ ${this.branch ?? 'HEAD'}${this.subfolder ? ` /${this.subfolder}` : ''}`;
  }

  async sync(): Promise<SourceSnapshot> {
    const commit = await this.fetch();
    if (this.verify) {
      // Checked before a single file is read: an untrusted commit's content never reaches the planner.
      const untrusted = await this.verifyCommit(commit);
      if (untrusted !== undefined) return { commit, files: [], untrusted };
    }
    return this.read(commit);
  }

  /**
   * Why `commit` is not trusted, or undefined when git's own `verify-commit` accepts its signature
   * against the operator's keys: an SSH allowed-signers file (`gpg.ssh.allowedSignersFile`) or a
   * GnuPG home holding the trusted public keys (`GNUPGHOME`). Unsigned, badly signed and signed by
   * an unknown key all fail. Settings of the same name in the operator's git config are overridden.
   */
  async verifyCommit(commit: string): Promise<string | undefined> {
    const verify = this.verify;
    if (!verify) return undefined;
    await this.cache();
    const args = 'allowedSigners' in verify
      ? ['-c', `gpg.ssh.allowedSignersFile=${verify.allowedSigners}`, '-c', 'gpg.ssh.revocationFile=', 'verify-commit', '--raw', commit]
      : ['verify-commit', '--raw', commit];
    const env = 'gpgKeyring' in verify ? { ...gitEnvironment(), GNUPGHOME: verify.gpgKeyring } : gitEnvironment();
    // Run directly, not through simple-git: it takes a failure with nothing on stderr (an unsigned
    // commit) for success, and here only the exit status decides.
    const result = await runGit(this.cacheDir, args, env, this.timeoutMs);
    if (result.ok) return undefined;
    const raw = await runGit(this.cacheDir, ['cat-file', 'commit', commit], gitEnvironment(), this.timeoutMs);
    if (!raw.ok) return `commit ${commit.slice(0, 12)} cannot be read to check its signature: ${raw.output.slice(0, 300)}`;
    if (!/\ngpgsig /.test(raw.output.split('\n\n')[0] ?? '')) return `commit ${commit.slice(0, 12)} is not signed; git.verify accepts only signed commits`;
    // The verdict is git's last line: an untrusted SSH key prints a "Good signature" line before "No principal matched".
    const detail = redactUrl(result.output).split('\n').map((l) => l.trim()).filter((l) => l !== '').at(-1) ?? 'verification failed';
    return `commit ${commit.slice(0, 12)} is not signed by a trusted key (git verify-commit: ${detail.slice(0, 300)})`;
  }

  /** Fetches the branch into the cache and returns its commit. The cache is created on first use. */
  async fetch(): Promise<string> {
    const git = await this.cache();
    const ref = this.branch ? `refs/heads/${this.branch}` : 'HEAD';
    try {
      await git.raw(['fetch', '--no-tags', '--no-recurse-submodules', '--force', '--quiet', '--', this.url, `+${ref}:${SOURCE_REF}`]);
    } catch (err) {
      // The cause is kept for logs, with its text masked too: a logger prints causes whole.
      throw new SourceError(redactUrl(this.url), `fetch ${this.branch ?? 'HEAD'} failed: ${gitMessage(err)}`, { cause: redactedError(err) });
    }
    return this.resolveCommit();
  }

  /** The commit last fetched, without contacting the remote; undefined before the first fetch. */
  async fetchedCommit(): Promise<string | undefined> {
    try {
      return await this.resolveCommit();
    } catch {
      return undefined;
    }
  }

  /**
   * Reads the manifests under the sub-folder at `commit` (which must be in the cache). A commit's
   * tree never changes: the one read last is answered again without asking git (a poll every
   * `--interval` mostly finds the same commit).
   */
  async read(commit: string): Promise<SourceSnapshot> {
    await this.cache();
    if (this.lastRead?.commit === commit) return { commit, files: this.lastRead.files };
    const files = await readManifestTree(undefined, this.cacheDir, commit, this.subfolder, this.limits, this.blobs);
    this.lastRead = { commit, files };
    return { commit, files };
  }
  private lastRead: { commit: string; files: SourceSnapshot['files'] } | undefined;

  async close(): Promise<void> {
    // Each git command is its own child process, finished when its promise settles: nothing to stop.
  }

  private async cache(): Promise<SimpleGit> {
    if (this.git) return this.git;
    await mkdir(this.cacheDir, { recursive: true });
    const git = simpleGit({
      baseDir: this.cacheDir,
      timeout: { block: this.timeoutMs },
      // No `unsafe` options: simple-git refuses arguments and variables that make git run a program.
      // git gets a minimal environment (never the controller's secrets); see git-process.ts.
    }).env(gitEnvironment());
    const initialised = await access(join(this.cacheDir, 'HEAD')).then(
      () => true,
      () => false,
    );
    if (!initialised) await git.raw(['init', '--bare', '--quiet']);
    this.git = git;
    return git;
  }

  private async resolveCommit(): Promise<string> {
    const git = await this.cache();
    try {
      return (await git.raw(['rev-parse', '--verify', '--quiet', `${SOURCE_REF}^{commit}`])).trim();
    } catch (err) {
      throw new SourceError(redactUrl(this.url), `no commit fetched yet for ${this.branch ?? 'HEAD'}`, { cause: redactedError(err) });
    }
  }

}

/** `err` as an Error whose message and stack have every URL's credentials masked. */
function redactedError(err: unknown): Error {
  const safe = new Error(redactUrl(err instanceof Error ? err.message : String(err)));
  safe.stack = redactUrl(err instanceof Error && err.stack ? err.stack : safe.message);
  return safe;
}

/** `https://…`, `ssh://…`, `file://…` or scp-like `user@host:path`; anything else is a local path. */
export function isRemoteUrl(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/\\]+@[^/\\:]+:/.test(url);
}


/** Runs git in `cwd`, bounded in time and output; `output` is stdout then stderr. Never rejects. */
function runGit(cwd: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd, env, timeout: timeoutMs, maxBuffer: 1 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ ok: !err, output: `${stdout}${stderr}` });
    });
  });
}

export { redactUrl } from './git-text.js';
