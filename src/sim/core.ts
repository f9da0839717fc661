import type { SimClock } from './clock.js';
import type { SimDatabase } from './database.js';
import type { EventHub } from './events.js';
import type { FaultController } from './faults.js';
import type { GuestAgents } from './behaviour/guest.js';
import type { MessageSpec, Model } from './model/classes.js';
import type { CallLog } from './call-log.js';
import type { CallStats } from './stats.js';
import type { XmlEncoder } from './codec/xmlrpc.js';

/** What a message handler gets: the coerced positional arguments (session removed) and where the call landed. */
export interface Call {
  readonly core: SimCore;
  readonly db: SimDatabase;
  readonly spec: MessageSpec;
  readonly args: readonly unknown[];
  /** The caller's session ref ('' for login calls). */
  readonly session: string;
  /** The host that received the call (index into the pool's hosts). */
  readonly hostIndex: number;
  /** Set when the call runs as an Async task. */
  readonly task?: string;
}

/** A message implementation. Throw XapiFailure for API errors; the return value is encoded by the result type. */
export type Handler = (call: Call) => unknown;

/** Shared state of one simulator instance, handed to every handler. */
export interface SimCore {
  readonly db: SimDatabase;
  readonly model: Model;
  readonly events: EventHub;
  readonly faults: FaultController;
  /** What runs inside each VM and what its guest agent reports. */
  readonly guests: GuestAgents;
  readonly stats: CallStats;
  /** Who called what, when a test asked for it (see call-log.ts). */
  readonly calls: CallLog;
  readonly xml: XmlEncoder;
  readonly handlers: Map<string, Handler>;
  /** The pool's time, which moves only when advanced (see clock.ts). */
  readonly clock: SimClock;
  readonly credentials: { readonly user: string; readonly password: string };
  /** Host refs in index order (the order of the seed), fixed for the simulator's life. */
  hostRefs(): string[];
  poolRef(): string;
}
