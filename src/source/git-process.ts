import { spawn } from 'node:child_process';
import { redactUrl } from './git-text.js';

/**
 * Variables a git child may inherit from the controller: what finding programs, the home folder
 * (the operator's `~/.gitconfig`, `~/.ssh/config`, credential helpers), the SSH agent, proxies and
 * CA bundles need. Everything else is dropped, above all the controller's own secrets (`XOPS_*`, the
 * XAPI password) and `GIT_*` variables that would point git at another repository, config file,
 * program or protocol.
 */
const INHERITED = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'TMPDIR',
  'TZ',
  'SSH_AUTH_SOCK',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'GIT_SSL_CAINFO',
  'GIT_SSL_CAPATH',
]);

/**
 * Transports git may use. Leaves out `ext::` (runs a command named in the URL) and `fd::`, and
 * applies to submodules and redirects alike, whatever a config file says.
 */
const ALLOWED_PROTOCOLS = 'file:git:http:https:ssh';

/**
 * The whole environment of every git child process: the few inherited variables above, plus
 * settings that keep git non-interactive (no terminal prompt, no askpass program) and its messages
 * in one language (the `fatal:` line is what errors show).
 */
export function gitEnvironment(parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(parent)) if (value !== undefined && INHERITED.has(key)) env[key] = value;
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_ALLOW_PROTOCOL = ALLOWED_PROTOCOLS;
  env.LC_ALL = 'C';
  return env;
}

/** What `runGit` may spend. */
export interface GitRunLimits {
  /** Standard output beyond this many bytes kills git; the call rejects with `OutputTooLarge`. */
  maxOutputBytes: number;
  /** Written to git's standard input, which is then closed. */
  input?: string;
  /** git still running after this long is killed and the call rejects; default 120 s. */
  timeoutMs?: number;
}

/** git printed more than the caller allowed; it was killed. */
export class OutputTooLarge extends Error {
  override name = 'OutputTooLarge';
}

/**
 * Runs `git args` in `cwd` with `gitEnvironment()` and returns its standard output, never holding
 * more than `maxOutputBytes` of it nor waiting longer than `timeoutMs`: the read of a hostile
 * repository stays bounded in memory and time even when git itself would print without end. Rejects with git's `fatal:` line (credentials masked)
 * when it exits non-zero.
 */
export function runGit(cwd: string, args: string[], limits: GitRunLimits): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', args, { cwd, env: gitEnvironment(), stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    let failure: Error | undefined;
    const timeoutMs = limits.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      failure ??= new Error(`git ${args[0]} did not finish within ${timeoutMs} ms`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limits.maxOutputBytes) {
        failure ??= new OutputTooLarge(`git ${args[0]} printed more than ${limits.maxOutputBytes} bytes`);
        child.kill('SIGKILL');
        return;
      }
      chunks.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      // Only the first lines matter for the message; a chatty git must not grow this without end.
      if (stderr.length < 16_384) stderr += c.toString();
    });
    // git may exit before reading all its input (a bad object id): that EPIPE is not the error.
    child.stdin.on('error', () => {});
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`git ${args[0]} failed to start: ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else if (code !== 0) reject(new Error(redactUrl(firstFatal(stderr) ?? `git ${args[0]} exited ${code}`)));
      else resolvePromise(Buffer.concat(chunks));
    });
    child.stdin.end(limits.input ?? '');
  });
}

function firstFatal(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^fatal:/.test(l)) ?? lines[0];
}
