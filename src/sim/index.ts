/**
 * The XAPI simulator: an in-memory pool that speaks XAPI's XML-RPC and JSON-RPC with its envelopes, refs, error
 * codes, events and semantics, so real XAPI clients work against it unchanged. See README section "Simulator"
 * and `startSimulator`.
 */
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import type https from 'node:https';
import { createSecureContext } from 'node:tls';
import { vmHandlers } from './behaviour/vm.js';
import { sessionHandlers } from './behaviour/session.js';
import { storageHandlers } from './behaviour/storage.js';
import { networkHandlers } from './behaviour/network.js';
import { poolHandlers } from './behaviour/pool.js';
import { secretHandlers, secretLayer } from './behaviour/secret.js';
import { attachVmssScheduler, vmssHandlers } from './behaviour/vmss.js';
import { evacuateHandlers } from './behaviour/evacuate.js';
import { vmGroupHandlers } from './behaviour/vm-group.js';
import { SimClock } from './clock.js';
import { XmlEncoder } from './codec/xmlrpc.js';
import type { Handler, SimCore } from './core.js';
import { SimDatabase } from './database.js';
import { Dispatcher } from './dispatcher.js';
import { EventHub } from './events.js';
import { FaultController, type DarkMode } from './faults.js';
import { refreshDeviceOperations } from './behaviour/devices.js';
import { GuestAgents } from './behaviour/guest.js';
import { vmAllowedOperations } from './behaviour/objects.js';
import { close, createListener, listen } from './http-server.js';
import { getModel } from './model/classes.js';
import { buildPool } from './seed/builder.js';
import { DEMO_SEED, EMPTY_SEED } from './seed/demo.js';
import type { SeedDocument } from './seed/format.js';
import { CallStats } from './stats.js';
import { CallLog } from './call-log.js';
import { parseTlsIdentity, type TlsIdentity } from './tls.js';

export { SimDatabase, DbObject } from './database.js';
export type { Change } from './database.js';
export { FaultController } from './faults.js';
export type { FaultSpec, FaultRule, FaultAim, FaultState, DarkMode } from './faults.js';
export { FaultSpecError } from './faults.js';
export type { TlsIdentity } from './tls.js';
export { CallStats } from './stats.js';
export { CallLog, type LoggedCall } from './call-log.js';
export { startSimulators, MAX_SIM_POOLS } from './multi.js';
export { SimClock } from './clock.js';
export { GuestAgents, NO_GUEST } from './behaviour/guest.js';
export type { AgentReports, GuestOs, GuestProfile, Tristate } from './behaviour/guest.js';
export type { SeedDocument, SeedHost, SeedNetwork, SeedSr, SeedVm, SeedGuest } from './seed/format.js';
export { DEMO_SEED, EMPTY_SEED } from './seed/demo.js';
export { XapiFailure } from './errors.js';

/** How to start a simulator. Every field is optional. */
export interface SimOptions {
  /** TCP port; 0 (default) picks a free one. All hosts share it, each on its own address. */
  port?: number;
  /** The master's address (default 127.0.0.1). Other hosts take the next addresses: 127.0.0.2, 127.0.0.3... */
  host?: string;
  /** `'demo'` (default), `'empty'`, a path to a JSON seed file, or a seed document. */
  seed?: 'demo' | 'empty' | string | SeedDocument;
  /** Extra `scale-vm-NNNN` VMs (each with one or two disks and a VIF). */
  vms?: number;
  /** Credentials accepted by session.login_with_password (default root / xops). */
  user?: string;
  password?: string;
  /**
   * true (default): each host listens on its own loopback address (needs a 127.x.y.z `host`).
   * false: a single listener, for host 0.
   */
  multiHost?: boolean;
  /**
   * Turn plain `*password` device-config keys into `*password_secret` keys naming new secrets, as XAPI does in
   * SR.create, SR.probe, PBD.create and PBD.set_device_config. Off by default: PBDs keep what the caller sent.
   */
  movePasswordsToSecrets?: boolean;
  /** Serve HTTPS with this certificate instead of HTTP (URLs become `https://`); see `setCertificate`. */
  tls?: TlsIdentity;
  /** The pool's time at start (default: now). It moves only with `clock.advance` (see docs/simulator.md). */
  clockStart?: Date;
}

/** A running simulator. */
export interface Simulator {
  /** The master's URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** One URL per host, index-aligned with the seed's hosts ('' for a host without a listener). */
  hostUrls: string[];
  port: number;
  /** In-process access to the model: changes made here produce events like API calls do. */
  db: SimDatabase;
  faults: FaultController;
  /** What runs inside each VM and when its agent reports (see docs/simulator.md, "Guests"). */
  guests: GuestAgents;
  stats: CallStats;
  /** Every call with its session, once `calls.start()` is called (off by default). */
  calls: CallLog;
  /** The pool's time: advancing it runs the snapshot schedules that fall due. */
  clock: SimClock;
  /** Host refs in seed order. */
  hostRefs: string[];
  poolRef: string;
  /** Moves pool.master to host `toHostIndex` (same as `faults.failover`). */
  failover(toHostIndex: number): void;
  /**
   * Serves `identity` from now on, on every host: new TLS connections get the new certificate, open ones keep
   * theirs. Throws when the simulator was started without `tls`.
   */
  setCertificate(identity: TlsIdentity): void;
  /** Registers or replaces the implementation of a wire method (e.g. to script an odd reply in a test). */
  setHandler(method: string, handler: Handler): void;
  stop(): Promise<void>;
}

async function loadSeed(seed: SimOptions['seed']): Promise<SeedDocument> {
  if (seed === undefined || seed === 'demo') return DEMO_SEED;
  if (seed === 'empty') return EMPTY_SEED;
  if (typeof seed === 'string') return JSON.parse(await readFile(seed, 'utf8')) as SeedDocument;
  return seed;
}

/** 127.a.b.c plus `i` in the last octet; undefined for anything that is not an IPv4 loopback address. */
function loopbackPlus(base: string, i: number): string | undefined {
  const m = /^127\.(\d+)\.(\d+)\.(\d+)$/.exec(base);
  if (!m) return undefined;
  const last = Number(m[3]) + i;
  return last <= 254 ? `127.${m[1]}.${m[2]}.${last}` : undefined;
}

/** Starts a simulated pool and its listeners. */
export async function startSimulator(opts: SimOptions = {}): Promise<Simulator> {
  const seed = await loadSeed(opts.seed);
  const baseHost = opts.host ?? '127.0.0.1';
  const hostCount = Math.max(1, seed.hosts?.length ?? 1);
  const addresses = Array.from({ length: hostCount }, (_, i) => (i === 0 ? baseHost : (loopbackPlus(baseHost, i) ?? `192.0.2.${10 + i}`)));
  const multiHost = (opts.multiHost ?? true) && loopbackPlus(baseHost, 0) !== undefined;

  const model = getModel();
  const db = new SimDatabase(model);
  const guests = new GuestAgents(db);
  guests.onChange = (vm) => {
    if (!db.get(vm)) return;
    db.set(vm, 'allowed_operations', vmAllowedOperations(db, vm));
    refreshDeviceOperations(db, vm);
  };
  const seeded = buildPool(db, seed, addresses, opts.vms ?? 0, guests);
  const hostRefs = seeded.hosts;
  const events = new EventHub(db);
  const stats = new CallStats();
  const calls = new CallLog();
  const failover = (i: number): void => {
    const target = hostRefs[i];
    if (!target) throw new Error(`no host with index ${i}`);
    db.set(seeded.pool, 'master', target);
  };
  // Listeners by host index; a host that went dark in `refuse` mode has none until it is restored.
  const servers: (http.Server | undefined)[] = addresses.map(() => undefined);
  let port = opts.port ?? 0;
  let tls = opts.tls;
  let stopped = false;
  const checkHost = (i: number): void => {
    if (!hostRefs[i]) throw new Error(`no host with index ${i}`);
  };
  const faults = new FaultController({
    invalidateSessions: () => {
      for (const s of [...db.all('session')]) db.destroy(s.ref);
    },
    failover,
    hostDark: (i: number, mode: DarkMode) => {
      checkHost(i);
      const s = servers[i];
      if (mode !== 'refuse' || !s) return;
      servers[i] = undefined;
      return close(s);
    },
    hostRestore: (i: number, mode: DarkMode) => {
      if (stopped || mode !== 'refuse' || !hostUrls[i] || servers[i]) return;
      const s = createListener(core, dispatcher, i, control, tls);
      servers[i] = s;
      // The port was ours a moment ago; failing to get it back is a simulator bug worth seeing.
      return listen(s, addresses[i]!, port).then(
        () => undefined,
        (e: unknown) => console.error(`xops sim: host ${i} could not listen again`, e),
      );
    },
  });
  const handlers = new Map<string, Handler>();
  const core: SimCore = {
    db,
    model,
    events,
    faults,
    guests,
    stats,
    calls,
    xml: new XmlEncoder(model),
    handlers,
    clock: new SimClock(opts.clockStart),
    credentials: { user: opts.user ?? 'root', password: opts.password ?? 'xops' },
    hostRefs: () => hostRefs,
    poolRef: () => seeded.pool,
  };
  const vmssSince = attachVmssScheduler(core, core.clock);
  for (const group of [sessionHandlers(), vmHandlers(), storageHandlers(), networkHandlers(), poolHandlers(), secretHandlers(), vmssHandlers(vmssSince), evacuateHandlers(), vmGroupHandlers()]) {
    for (const [k, v] of Object.entries(group)) handlers.set(k, v);
  }
  secretLayer(handlers, { movePasswords: opts.movePasswordsToSecrets ?? false });
  const dispatcher = new Dispatcher(core);
  const setCertificate = (identity: TlsIdentity): void => {
    if (!tls) throw new Error('tls: this simulator serves plain HTTP (start it with the tls option)');
    // Checked once up front (bad PEM, key not matching the certificate) so no host is left half switched.
    createSecureContext({ cert: parseTlsIdentity(identity).cert, key: identity.key });
    tls = identity;
    for (const s of servers) (s as https.Server | undefined)?.setSecureContext({ cert: identity.cert, key: identity.key });
  };
  const control = { failover, ...(tls ? { setCertificate } : {}) };

  const scheme = tls ? 'https' : 'http';
  const hostUrls: string[] = addresses.map(() => '');
  const closeAll = (): Promise<void[]> => Promise.all(servers.splice(0, servers.length, ...addresses.map(() => undefined)).map((s) => (s ? close(s) : undefined)));
  for (let attempt = 0; ; attempt++) {
    try {
      const master = createListener(core, dispatcher, 0, control, tls);
      servers[0] = master;
      port = await listen(master, baseHost, opts.port ?? 0);
      hostUrls[0] = `${scheme}://${baseHost}:${port}`;
      if (multiHost) {
        for (let i = 1; i < hostCount; i++) {
          const s = createListener(core, dispatcher, i, control, tls);
          servers[i] = s;
          await listen(s, addresses[i]!, port);
          hostUrls[i] = `${scheme}://${addresses[i]}:${port}`;
        }
      }
      break;
    } catch (e) {
      await closeAll();
      // A free port on the master's address may be taken on another one; with port 0, simply try another.
      if ((opts.port ?? 0) !== 0 || attempt >= 10) throw e;
    }
  }

  return {
    url: hostUrls[0]!,
    hostUrls,
    port,
    db,
    faults,
    guests,
    stats,
    calls,
    clock: core.clock,
    hostRefs,
    poolRef: seeded.pool,
    failover,
    setCertificate,
    setHandler: (method, handler) => {
      handlers.set(method, handler);
      dispatcher.invalidate();
    },
    stop: async () => {
      stopped = true;
      events.close();
      faults.held.dropAll();
      await closeAll();
    },
  };
}
