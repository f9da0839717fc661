/**
 * The `/_sim/guests` part of the simulator's control endpoint: what runs inside each VM and when its agent
 * reports, for tests that drive the simulator over HTTP (the in-process equivalent is `sim.guests`).
 *
 * - `GET /_sim/guests`: `{agentReports, guests: {ref: profile + name_label + guest_metrics}}`.
 * - `POST /_sim/guests` `{"vm": ref|uuid|name, "guest": {"tools": bool, "os": {...}, ...}}`: installs a guest.
 * - `POST /_sim/guests/report` `{"vm": ...}`: that VM's agent reports now; without `vm`, every running guest
 *   with tools that has not reported yet does. Answers the guest metrics refs.
 * - `POST /_sim/guests/mode` `{"agentReports": "on-start" | "manual"}`.
 * - `POST /_sim/guests/dhcp` `{"network": ref|uuid|name, "first": "10.0.7.10", "size": 100}`.
 */
import type { SimCore } from './core.js';
import type { SimDatabase } from './database.js';
import { parseGuestProfile } from './behaviour/guest.js';

/** A control reply: HTTP status and JSON body. */
export interface ControlReply {
  readonly status: number;
  readonly body: unknown;
}

/** Resolves a ref, uuid or unique name_label of `cls`; throws a one-line error otherwise. */
function resolve(db: SimDatabase, cls: string, id: unknown): string {
  if (typeof id !== 'string' || id === '') throw new Error(`"${cls === 'VM' ? 'vm' : 'network'}" must name a ${cls} (ref, uuid or name_label)`);
  const o = db.get(id);
  if (o?.cls.name === cls) return o.ref;
  const byUuid = db.refByUuid(cls, id);
  if (byUuid) return byUuid;
  const named = db.findByName(cls, id);
  if (named.length === 1) return named[0]!.ref;
  throw new Error(named.length > 1 ? `${named.length} ${cls}s are named ${JSON.stringify(id)}: use a ref or uuid` : `no ${cls} ${JSON.stringify(id)}`);
}

/** Handles `/_sim/guests...`; undefined for any other path. Throws Error (or XapiFailure) for bad requests. */
export function guestControl(core: SimCore, method: string, path: string, input: Record<string, unknown>): ControlReply | undefined {
  const guests = core.guests;
  if (path === '/_sim/guests' && method === 'GET') return { status: 200, body: guests.state() };
  if (path === '/_sim/guests' && method === 'POST') {
    const vm = resolve(core.db, 'VM', input.vm);
    guests.setProfile(vm, parseGuestProfile(input.guest, 'POST /_sim/guests'));
    return { status: 200, body: { vm, guest: guests.profile(vm), guest_metrics: core.db.record(vm).guest_metrics } };
  }
  if (path === '/_sim/guests/report' && method === 'POST') {
    const reported = input.vm === undefined ? guests.reportAll() : [guests.report(resolve(core.db, 'VM', input.vm))];
    return { status: 200, body: { guest_metrics: reported } };
  }
  if (path === '/_sim/guests/mode' && method === 'POST') {
    if (input.agentReports !== 'on-start' && input.agentReports !== 'manual') throw new Error('"agentReports" must be "on-start" or "manual"');
    guests.agentReports = input.agentReports;
    return { status: 200, body: { agentReports: guests.agentReports } };
  }
  if (path === '/_sim/guests/dhcp' && method === 'POST') {
    const network = resolve(core.db, 'network', input.network);
    guests.setDhcpRange(network, String(input.first), Number(input.size));
    return { status: 200, body: { network, first: input.first, size: input.size } };
  }
  return undefined;
}
