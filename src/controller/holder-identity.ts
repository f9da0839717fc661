import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** What the identity file records: whose lease value this is, and which process last used it. */
interface HolderRecord {
  holder: string;
  host: string;
  pid: number;
}

/** Where a controller's lease identity for one pool is kept, inside its cache folder. */
export function holderFile(cacheDir: string, poolUrl: string): string {
  const digest = createHash('sha256').update(poolUrl).digest('hex').slice(0, 16);
  return join(cacheDir, `lease-holder-${digest}.json`);
}

/** Probes whether a process of this host still runs. EPERM means it runs as another user. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readRecord(file: string): HolderRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<HolderRecord>;
    const valid =
      typeof parsed.holder === 'string' && /^[A-Za-z0-9._:@-]{1,200}$/.test(parsed.holder) &&
      typeof parsed.host === 'string' && Number.isInteger(parsed.pid);
    return valid ? (parsed as HolderRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The lease holder identity of this controller for one pool, kept in `file` so that a controller
 * restarted on the same host (a crash, an upgrade, `systemctl restart`) recognises the lease it held
 * and takes it back at once instead of waiting a whole TTL for its own lease to expire.
 *
 * The identity is reused only when its last user is gone: a second live controller sharing the
 * cache folder (same host, other pid still running) gets a fresh identity of its own, so two
 * processes never hold one lease under one name. A record from another host is never reused.
 * A folder that cannot be written only costs the fast takeover: the fresh identity still works.
 */
export function persistentHolder(file: string, pid = process.pid, host = hostname()): string {
  const previous = readRecord(file);
  const reusable = previous !== undefined && previous.host === host && (previous.pid === pid || !processAlive(previous.pid));
  if (previous && !reusable && previous.host === host) return freshHolder(host);
  const holder = reusable ? previous.holder : freshHolder(host);
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    const tmp = `${file}.${pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ holder, host, pid } satisfies HolderRecord) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // Read-only cache: the identity lasts this process only.
  }
  return holder;
}

function freshHolder(host: string): string {
  const safeHost = host.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 100) || 'host';
  return `${safeHost}:${randomBytes(6).toString('hex')}`;
}

