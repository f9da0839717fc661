/**
 * `readiness.waitForIP`: after apply starts a VM it waits until the guest agent reports an address in
 * the declared range (VM_guest_metrics.networks, keys like `0/ip`, `0/ipv4/0`), waking on events for
 * the VM and the guest metrics rather than polling on a timer.
 */
import type { Ref } from '../../model/observed.js';
import { NULL_REF } from '../../model/observed.js';
import type { XapiCaller } from '../../xapi/caller.js';
import { eventTimeout } from '../../xapi/task-watcher.js';

/** One event.from round at most this long, so a lost connection is noticed and the deadline kept. */
const ROUND_SECONDS = 10;

/** Parses `a.b.c.d/n` (IPv4); undefined when it is not one. */
export function parseCidr(cidr: string): { base: number; bits: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  return { base: ipv4(octets), bits };
}

function ipv4(octets: number[]): number {
  return ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
}

/** True when `ip` (dotted IPv4) lies in `cidr`. */
export function inRange(ip: string, cidr: string): boolean {
  const range = parseCidr(cidr);
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!range || !m) return false;
  const mask = range.bits === 0 ? 0 : (0xffffffff << (32 - range.bits)) >>> 0;
  return ((ipv4(m.slice(1, 5).map(Number)) & mask) >>> 0) === ((range.base & mask) >>> 0);
}

/** The distinct addresses a guest reports, in key order (`0/ip`, `0/ipv4/0`, `1/ipv6/0`, ...). */
export function reportedAddresses(networks: Record<string, string> | undefined): string[] {
  const keys = Object.keys(networks ?? {}).filter((k) => /^\d+\/(ip|ipv4\/\d+|ipv6\/\d+)$/.test(k)).sort();
  return [...new Set(keys.map((k) => networks![k]!))];
}

/** Rejection of waitForAddress at its deadline, naming what the guest did report. */
export class ReadinessTimeout extends Error {
  override name = 'ReadinessTimeout';
  readonly cidr: string;
  readonly reported: string[];
  constructor(cidr: string, seconds: number, reported: string[]) {
    super(`the guest reported no address in ${cidr} within ${seconds}s (reported: ${reported.length ? reported.join(', ') : 'none'})`);
    this.cidr = cidr;
    this.reported = reported;
  }
}

async function addressesOf(caller: XapiCaller, vm: Ref): Promise<string[]> {
  const gm = await caller.call<Ref>('VM.get_guest_metrics', vm);
  if (!gm || gm === NULL_REF) return [];
  return reportedAddresses(await caller.call<Record<string, string>>('VM_guest_metrics.get_networks', gm));
}

/**
 * Resolves with the first reported address in `cidr`, or rejects with ReadinessTimeout after
 * `timeoutSeconds`. `now` is the clock (milliseconds), for tests that drive it.
 */
export async function waitForAddress(caller: XapiCaller, vm: Ref, cidr: string, timeoutSeconds: number, now: () => number = Date.now): Promise<string> {
  const deadline = now() + timeoutSeconds * 1000;
  const classes = [`vm/${vm}`, 'vm_guest_metrics'];
  let token = '';
  for (;;) {
    const addresses = await addressesOf(caller, vm);
    const hit = addresses.find((ip) => inRange(ip, cidr));
    if (hit) return hit;
    const left = (deadline - now()) / 1000;
    if (left <= 0) throw new ReadinessTimeout(cidr, timeoutSeconds, addresses);
    // The first round (empty token) returns at once with a token; later ones wait for a change.
    const batch = await caller.call<{ token: string }>('event.from', classes, token, eventTimeout(token === '' ? 0 : Math.min(left, ROUND_SECONDS)));
    token = batch.token;
  }
}
