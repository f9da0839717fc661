/**
 * Running the built CLI (`dist/src/cli.js`) as a user does: a child process with its own
 * environment, stdout and stderr kept apart, the exit code as the shell sees it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/src/cli.js');

/** What a finished command printed and how it exited. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a user without a pool configured and without colour settings. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Connection and configuration variables go; XOPS_SECRET_* stay (the examples' SMB password).
  for (const key of Object.keys(env)) if ((key.startsWith('XOPS_') && !key.startsWith('XOPS_SECRET_')) || key === 'NO_COLOR' || key === 'FORCE_COLOR') delete env[key];
  return { ...env, ...extra };
}

/** Runs `xops ARGS` to completion (bounded: killed after 30 s). */
export function xops(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const child = startXops(args, opts);
  return finished(child.process);
}

/** A running `xops ARGS`; `lines` tells each complete line of stdout or stderr as it arrives. */
export function startXops(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { process: ChildProcessWithoutNullStreams; waitFor(stream: 'stdout' | 'stderr', re: RegExp): Promise<string> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: opts.env ?? cleanEnv() });
  const text = { stdout: '', stderr: '' };
  const waiters: { stream: 'stdout' | 'stderr'; re: RegExp; resolve(line: string): void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const line = text[w.stream].split('\n').slice(0, -1).find((l) => w.re.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout.on('data', (d: Buffer) => ((text.stdout += d.toString()), check()));
  child.stderr.on('data', (d: Buffer) => ((text.stderr += d.toString()), check()));
  (child as unknown as { captured: typeof text }).captured = text;
  return {
    process: child,
    waitFor: (stream, re) =>
      new Promise<string>((resolve, reject) => {
        waiters.push({ stream, re, resolve });
        check();
        child.once('exit', () => setImmediate(() => reject(new Error(`xops exited before printing ${re} on ${stream}:\n${text.stdout}\n${text.stderr}`))));
      }),
  };
}

/** Resolves when the child exits, with everything it printed. */
export function finished(child: ChildProcessWithoutNullStreams, limitMs = 30_000): Promise<CliResult> {
  const text = (child as unknown as { captured: { stdout: string; stderr: string } }).captured;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`xops did not exit within ${limitMs} ms:\n${text.stdout}\n${text.stderr}`));
    }, limitMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: text.stdout, stderr: text.stderr });
    });
  });
}
