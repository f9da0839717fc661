import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** What the identity file records: whose lease value this is, and which process last used it. */
interface HolderRecord {
  holder: string;
  host: string;
  pid: number;
  /** The process's start time as the kernel counts it (Linux), telling a reused pid from the recorder. */
  started?: string;
}

/** Where a controller's lease identity for one pool is kept, inside its cache folder. */
export function holderFile(cacheDir: string, poolUrl: string): string {
  const digest = createHash('sha256').update(poolUrl).digest('hex').slice(0, 16);
  return join(cacheDir, `lease-holder-${digest}.json`);
}

/**
 * When the process `pid` started, in clock ticks since boot (field 22 of /proc/PID/stat), or
 * undefined where there is no /proc or no such process. The command name (field 2) may hold spaces
 * and parentheses, so fields are counted from its closing parenthesis.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie has exited; only its parent has not reaped it yet.
    if (fields[0] === 'Z') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/**
 * Probes whether the process that wrote a record still runs. EPERM means it runs as another user.
 * A pid is reused once the kernel wraps around (32,768 by default, soon reached on a host that forks
 * git often): a running process under the recorded pid that started at another time is not the
 * recorder, and its identity may be taken back.
 */
function recorderAlive(record: HolderRecord): boolean {
  let otherUser = false;
  try {
    process.kill(record.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
    otherUser = true;
  }
  if (record.started === undefined) return true;
  const started = processStartTime(record.pid);
  // Unreadable: our own process that is a zombie (exited, not yet reaped), or gone meanwhile; another
  // user's that /proc hides (hidepid) is taken to be the recorder, as without a start time.
  if (started === undefined) return otherUser;
  return started === record.started;
}

function readRecord(file: string): HolderRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<HolderRecord>;
    const valid =
      typeof parsed.holder === 'string' && /^[A-Za-z0-9._:@-]{1,200}$/.test(parsed.holder) &&
      typeof parsed.host === 'string' && Number.isInteger(parsed.pid) &&
      (parsed.started === undefined || (typeof parsed.started === 'string' && /^[0-9]{1,20}$/.test(parsed.started)));
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
  const reusable = previous !== undefined && previous.host === host && (previous.pid === pid || !recorderAlive(previous));
  if (previous && !reusable && previous.host === host) return freshHolder(host);
  const holder = reusable ? previous.holder : freshHolder(host);
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    const tmp = `${file}.${pid}.tmp`;
    const started = processStartTime(pid);
    writeFileSync(tmp, JSON.stringify({ holder, host, pid, ...(started ? { started } : {}) } satisfies HolderRecord) + '\n', { mode: 0o600 });
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

