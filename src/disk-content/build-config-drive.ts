/**
 * Builds a NoCloud config drive image (ISO 9660 with Rock Ridge and Joliet names, volume label `cidata`) with
 * genisoimage, Debian package `genisoimage`, which the controller host needs. The tool runs as a child process
 * with an argument list (no shell), in a temp dir removed afterwards, under a time and an output-size bound.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_DRIVE_LABEL, type ConfigDriveFiles } from './config-drive.js';

/** Bound on the image: the files are at most 1 MiB each, and ISO 9660 overhead is a few hundred KiB. */
export const MAX_CONFIG_DRIVE_BYTES = 8 * 1024 * 1024;
const MiB = 1024 * 1024;

/** How to run the image tool. */
export interface BuildOptions {
  /** The genisoimage binary (default `genisoimage` on PATH). */
  tool?: string;
  /** How long the tool may run (default 30 s). */
  timeoutMs?: number;
}

/** The tool is missing, failed, ran too long, or made an image over the bound. */
export class ConfigDriveBuildError extends Error {
  override name = 'ConfigDriveBuildError';
}

/** What was built. */
export interface BuiltDrive {
  path: string;
  /** The image's length in bytes. */
  bytes: number;
  /** The VDI size to hold it: the image rounded up to whole MiB. */
  vdiSize: number;
}

/**
 * Writes the config drive for `files` to `dest` (overwriting it). Rejects with ConfigDriveBuildError, leaving no
 * temp files behind; `dest` is only written once the image is complete.
 */
export async function buildConfigDrive(files: ConfigDriveFiles, dest: string, opts: BuildOptions = {}): Promise<BuiltDrive> {
  const dir = await mkdtemp(join(tmpdir(), 'xops-cidata-'));
  try {
    const names = (['user-data', 'meta-data', 'network-config'] as const).filter((n) => files[n] !== undefined);
    for (const n of names) await writeFile(join(dir, n), files[n]!, 'utf8');
    const image = join(dir, 'cidata.iso');
    const args = ['-quiet', '-input-charset', 'utf-8', '-output', image, '-volid', CONFIG_DRIVE_LABEL, '-joliet', '-rock', ...names];
    await run(opts.tool ?? 'genisoimage', args, dir, opts.timeoutMs ?? 30_000);
    const { size } = await stat(image);
    if (size > MAX_CONFIG_DRIVE_BYTES) throw new ConfigDriveBuildError(`config drive of ${size} bytes exceeds ${MAX_CONFIG_DRIVE_BYTES}`);
    await copyFile(image, dest);
    return { path: dest, bytes: size, vdiSize: Math.ceil(size / MiB) * MiB };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(tool: string, args: string[], cwd: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        new ConfigDriveBuildError(
          e.code === 'ENOENT' ? `${tool} not found: the controller host needs Debian package genisoimage to build config drives` : `${tool}: ${e.message}`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const why = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (over ${timeoutMs} ms?)` : ''}` : `exit code ${code}`;
      reject(new ConfigDriveBuildError(`${tool} failed (${why}): ${stderr.trim().split('\n')[0] ?? ''}`));
    });
  });
}
