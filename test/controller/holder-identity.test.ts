import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { holderFile, persistentHolder, processStartTime } from '../../src/controller/holder-identity.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function fileIn(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xops-holder-'));
  dirs.push(dir);
  return holderFile(dir, 'https://pool-a.example');
}
/** The pid of a process that has exited (and been reaped), so it no longer runs. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('the lease holder identity kept in the cache folder', () => {
  it('is the same identity after a restart (the previous process is gone)', () => {
    const file = fileIn();
    const first = persistentHolder(file, deadPid(), 'ctl-host');
    expect(first).toMatch(/^ctl-host:[0-9a-f]{12}$/);
    expect(persistentHolder(file, process.pid, 'ctl-host')).toBe(first);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ holder: first, host: 'ctl-host', pid: process.pid, started: processStartTime(process.pid) });
  });

  it('is a fresh identity while the process that recorded it still runs (two controllers sharing a cache)', () => {
    const file = fileIn();
    const first = persistentHolder(file, process.ppid, 'ctl-host');
    const second = persistentHolder(file, process.pid, 'ctl-host');
    expect(second).not.toBe(first);
    // The running controller's record stays, so its own restart still finds it.
    expect(JSON.parse(readFileSync(file, 'utf8')).holder).toBe(first);
  });

  it('is the same identity when its pid now belongs to a process that started later (pid reuse after wrap-around)', () => {
    // A killed apply's pid, reused by an unrelated process, made the next apply think its
    // predecessor still ran: it took a fresh identity and was refused by its own old lease.
    const file = fileIn();
    writeFileSync(file, JSON.stringify({ holder: 'ctl-host:0123456789ab', host: 'ctl-host', pid: process.ppid, started: '1' }));
    expect(persistentHolder(file, process.pid, 'ctl-host')).toBe('ctl-host:0123456789ab');
  });

  it('reads a process\'s start time past a command name holding spaces and parentheses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xops-comm-'));
    dirs.push(dir);
    const oddName = join(dir, 'a) (b c');
    symlinkSync(process.execPath, oddName);
    const child = spawn(oddName, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const ours = Number(processStartTime(process.pid));
      const theirs = Number(processStartTime(child.pid!));
      expect(Number.isInteger(ours) && ours > 0).toBe(true);
      // Started after us, in clock ticks since boot: a misparsed field would not be.
      expect(theirs).toBeGreaterThanOrEqual(ours);
    } finally {
      child.kill('SIGKILL');
    }
    expect(processStartTime(deadPid())).toBeUndefined();
  });

  it('is the same identity for the same pid (a container restarts as pid 1 again)', () => {
    const file = fileIn();
    expect(persistentHolder(file, 1, 'box')).toBe(persistentHolder(file, 1, 'box'));
  });

  it('never takes over another host\'s identity, nor a corrupt or hostile record', () => {
    const file = fileIn();
    const elsewhere = persistentHolder(file, deadPid(), 'host-a');
    expect(persistentHolder(file, deadPid(), 'host-b')).not.toBe(elsewhere);
    writeFileSync(file, JSON.stringify({ holder: 'evil|2099-01-01T00:00:00Z', host: 'h', pid: 1 }));
    expect(persistentHolder(file, 2, 'h')).not.toContain('|');
    writeFileSync(file, '{not json');
    expect(persistentHolder(file, 2, 'h')).toMatch(/^h:[0-9a-f]{12}$/);
  });

  it('keeps one file per pool', () => {
    expect(holderFile('/c', 'https://a')).not.toBe(holderFile('/c', 'https://b'));
  });

});
