import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { normaliseSubfolder, resolveLinkTarget } from './paths.js';
import { isManifestPath, SourceError, type ManifestFile, type ManifestSource, type SourceSnapshot } from './types.js';

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
}

/** The local ref the fetched branch is stored under, so the cache has exactly one thing to resolve. */
const SOURCE_REF = 'refs/xops/source';
const SYMLINK_MODE = '120000';
/** A chain of symlinks longer than this is treated as a loop. */
const MAX_LINK_HOPS = 8;

interface TreeEntry {
  mode: string;
  type: string;
  oid: string;
  /** Relative to the sub-folder. */
  path: string;
  /** A symlink's target (its blob's content), read by listTree. */
  target?: string;
}

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
  private git: SimpleGit | undefined;

  constructor(options: GitSourceOptions) {
    this.url = isRemoteUrl(options.url) ? options.url : resolve(options.url);
    this.branch = options.branch;
    const subfolder = normaliseSubfolder(options.path);
    if (subfolder === undefined) throw new SourceError(options.path ?? '', 'the manifests folder must stay inside the repository');
    this.subfolder = subfolder;
    const digest = createHash('sha256').update(this.url).digest('hex').slice(0, 16);
    this.cacheDir = resolve(options.cacheDir ?? join(options.cacheRoot ?? '.xops-cache', digest));
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.description = `git ${redactUrl(this.url)} @ ${this.branch ?? 'HEAD'}${this.subfolder ? ` /${this.subfolder}` : ''}`;
  }

  async sync(): Promise<SourceSnapshot> {
    const commit = await this.fetch();
    return this.read(commit);
  }

  /** Fetches the branch into the cache and returns its commit. The cache is created on first use. */
  async fetch(): Promise<string> {
    const git = await this.cache();
    const ref = this.branch ? `refs/heads/${this.branch}` : 'HEAD';
    try {
      await git.raw(['fetch', '--no-tags', '--force', '--quiet', '--', this.url, `+${ref}:${SOURCE_REF}`]);
    } catch (err) {
      throw new SourceError(redactUrl(this.url), `fetch ${this.branch ?? 'HEAD'} failed: ${gitMessage(err)}`, { cause: err });
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

  /** Reads the manifests under the sub-folder at `commit` (which must be in the cache). */
  async read(commit: string): Promise<SourceSnapshot> {
    const entries = await this.listTree(commit);
    const selected = selectFiles(entries, this.subfolder || '.');
    const blobs = await this.readBlobs([...new Set(selected.map((s) => s.oid))]);
    const files: ManifestFile[] = selected.map((s) => ({ path: s.path, content: blobs.get(s.oid)! }));
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { commit, files };
  }

  async close(): Promise<void> {
    // Each git command is its own child process, finished when its promise settles: nothing to stop.
  }

  private async cache(): Promise<SimpleGit> {
    if (this.git) return this.git;
    await mkdir(this.cacheDir, { recursive: true });
    const git = simpleGit({
      baseDir: this.cacheDir,
      timeout: { block: this.timeoutMs },
      // The environment is the operator's own (deploy keys through GIT_SSH_COMMAND, proxies), not
      // untrusted input, so the settings fetch may need are allowed; editors and pagers are dropped.
      unsafe: { allowUnsafeSshCommand: true, allowUnsafeAskPass: true, allowUnsafeConfigPaths: true, allowUnsafeGitProxy: true, allowUnsafeConfigEnvCount: true },
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
      throw new SourceError(redactUrl(this.url), `no commit fetched yet for ${this.branch ?? 'HEAD'}`, { cause: err });
    }
  }

  private async listTree(commit: string): Promise<TreeEntry[]> {
    const git = await this.cache();
    const args = ['--literal-pathspecs', 'ls-tree', '-r', '-z', '--full-tree', commit];
    if (this.subfolder) args.push('--', this.subfolder);
    let out: string;
    try {
      out = await git.raw(args);
    } catch (err) {
      throw new SourceError(`${commit}`, `cannot list the tree: ${gitMessage(err)}`, { cause: err });
    }
    const prefix = this.subfolder ? this.subfolder + '/' : '';
    const entries: TreeEntry[] = [];
    for (const line of out.split('\0')) {
      if (!line) continue;
      const tab = line.indexOf('\t');
      const [mode, type, oid] = line.slice(0, tab).split(' ');
      const fullPath = line.slice(tab + 1);
      if (fullPath === this.subfolder) {
        throw new SourceError(`${commit}:${fullPath}`, mode === SYMLINK_MODE ? 'the manifests folder is a symlink' : 'the manifests folder is a file');
      }
      entries.push({ mode, type, oid, path: fullPath.slice(prefix.length) });
    }
    if (entries.length === 0 && this.subfolder) {
      throw new SourceError(`${commit}:${this.subfolder}`, 'no such folder at this commit');
    }
    // Symlink targets are blob contents: read them so selectFiles can check where they point.
    const links = entries.filter((e) => e.mode === SYMLINK_MODE);
    if (links.length > 0) {
      const targets = await this.readBlobs(links.map((l) => l.oid));
      for (const link of links) link.target = targets.get(link.oid)!.toString('utf8');
    }
    return entries;
  }

  /** Reads blobs by object id through one `git cat-file --batch` process (binary-safe). */
  private readBlobs(oids: string[]): Promise<Map<string, Buffer>> {
    const result = new Map<string, Buffer>();
    if (oids.length === 0) return Promise.resolve(result);
    return new Promise((resolvePromise, reject) => {
      const child = spawn('git', ['cat-file', '--batch'], { cwd: this.cacheDir, stdio: ['pipe', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', (err) => reject(new SourceError(this.cacheDir, `git cat-file failed: ${err.message}`, { cause: err })));
      child.on('close', (code) => {
        if (code !== 0) {
          reject(new SourceError(this.cacheDir, `git cat-file exited ${code}: ${stderr.trim()}`));
          return;
        }
        const out = Buffer.concat(chunks);
        let pos = 0;
        for (const oid of oids) {
          const eol = out.indexOf(0x0a, pos);
          const header = out.subarray(pos, eol).toString();
          const [, type, size] = header.split(' ');
          if (type === 'missing' || size === undefined) {
            reject(new SourceError(this.cacheDir, `object ${oid} is missing from the cache`));
            return;
          }
          const start = eol + 1;
          result.set(oid, Buffer.from(out.subarray(start, start + Number(size))));
          pos = start + Number(size) + 1;
        }
        resolvePromise(result);
      });
      child.stdin.end(oids.join('\n') + '\n');
    });
  }
}

/**
 * Chooses the manifest files in a sub-folder's tree: regular blobs with a manifest extension, and
 * symlinks followed when they stay inside the folder (to a file, or to a folder whose files then
 * appear under the link's path). A symlink that leaves the folder is an error wherever it is, even
 * if its name is not a manifest's: the folder must be self-contained.
 */
function selectFiles(entries: TreeEntry[], where: string): { path: string; oid: string }[] {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const target = (e: TreeEntry) => e.target ?? '';
  for (const e of entries) {
    if (e.mode === SYMLINK_MODE && resolveLinkTarget(e.path, target(e)) === undefined) {
      throw new SourceError(`${where}/${e.path}`, `symlink to '${target(e)}' leaves the manifests folder`);
    }
  }
  const selected: { path: string; oid: string }[] = [];
  const follow = (linkPath: string, entry: TreeEntry, hops: number): void => {
    if (hops > MAX_LINK_HOPS) throw new SourceError(`${where}/${linkPath}`, 'too many levels of symlinks');
    const to = resolveLinkTarget(entry.path, target(entry))!;
    const file = byPath.get(to);
    if (file) {
      if (file.mode === SYMLINK_MODE) follow(linkPath, file, hops + 1);
      else if (file.type === 'blob' && isManifestPath(linkPath)) selected.push({ path: linkPath, oid: file.oid });
      return;
    }
    const dirPrefix = to === '' ? '' : to + '/';
    for (const inner of entries) {
      if (!inner.path.startsWith(dirPrefix)) continue;
      const aliased = linkPath + '/' + inner.path.slice(dirPrefix.length);
      if (inner.mode === SYMLINK_MODE) follow(aliased, inner, hops + 1);
      else if (inner.type === 'blob' && isManifestPath(aliased)) selected.push({ path: aliased, oid: inner.oid });
    }
  };
  for (const e of entries) {
    if (e.type === 'commit') continue; // submodule: its contents are not in this repository
    if (e.mode === SYMLINK_MODE) follow(e.path, e, 1);
    else if (e.type === 'blob' && isManifestPath(e.path)) selected.push({ path: e.path, oid: e.oid });
  }
  return selected;
}

/** `https://…`, `ssh://…`, `file://…` or scp-like `user@host:path`; anything else is a local path. */
export function isRemoteUrl(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/\\]+@[^/\\:]+:/.test(url);
}

/** Strips credentials embedded in a URL (`https://user:token@host/…`) before it reaches a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

/** Interactive helpers git must never start from a daemon, dropped from the inherited environment. */
const INTERACTIVE_ENV = /^(EDITOR|VISUAL|PAGER|GIT_EDITOR|GIT_SEQUENCE_EDITOR|GIT_PAGER|GIT_EXTERNAL_DIFF|GIT_TEMPLATE_DIR)$/i;

function gitEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !INTERACTIVE_ENV.test(key)) env[key] = value;
  // A remote asking for credentials must fail, not wait forever on a terminal nobody watches.
  env.GIT_TERMINAL_PROMPT = '0';
  return env;
}

function gitMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return redactUrl(lines.find((l) => /^fatal:/.test(l)) ?? lines[0] ?? 'unknown error');
}
