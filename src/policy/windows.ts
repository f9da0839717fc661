import { Cron } from 'croner';
import type { MaintenanceWindow } from '../model/desired.js';

/**
 * Whether a maintenance window is open at a given instant. Open means the most recent time the
 * schedule fired is at or before `now` and `now` is before that fire time plus the duration;
 * `closesAt` is then when it shuts. Closed carries the next time it opens (`null`: the schedule never
 * fires again, e.g. `0 0 30 2 *`).
 */
export type WindowStatus = { open: true; closesAt: Date } | { open: false; nextOpen: Date | null };

/** A maintenance window whose schedule or time zone cannot be read; the message says why. */
export class InvalidWindowError extends Error {
  override name = 'InvalidWindowError';
  readonly schedule: string;
  constructor(schedule: string, message: string) {
    super(message);
    this.schedule = schedule;
  }
}

const compiled = new Map<string, Cron>();

/**
 * The schedule as a croner pattern, cached by (schedule, time zone). Five fields only, as crontab
 * writes them; evaluated in `timezone` (IANA name), UTC when absent so that a window does not move
 * with the controller's machine.
 */
function scheduleOf(window: MaintenanceWindow): Cron {
  const timezone = window.timezone ?? 'UTC';
  const key = `${timezone}\u0000${window.schedule}`;
  let cron = compiled.get(key);
  if (!cron) {
    try {
      cron = new Cron(window.schedule, { mode: '5-part', timezone });
      // croner checks the zone lazily; one evaluation makes a bad name fail here rather than later.
      cron.nextRun(new Date(0));
    } catch (err) {
      throw new InvalidWindowError(window.schedule, err instanceof Error ? err.message : String(err));
    }
    compiled.set(key, cron);
  }
  return cron;
}

/** Throws InvalidWindowError when the window cannot be evaluated; returns nothing otherwise. */
export function checkWindow(window: MaintenanceWindow): void {
  scheduleOf(window);
  if (!(Number.isFinite(window.duration) && window.duration > 0)) {
    throw new InvalidWindowError(window.schedule, `duration must be a positive number of seconds, got ${window.duration}`);
  }
}

/** Where `window` stands at `now`. Pure apart from the schedule cache. */
export function windowStatus(window: MaintenanceWindow, now: Date): WindowStatus {
  checkWindow(window);
  const cron = scheduleOf(window);
  // croner returns fires strictly before its reference; one millisecond later includes a fire exactly at `now`.
  const [lastFire] = cron.previousRuns(1, new Date(now.getTime() + 1));
  if (lastFire) {
    const closesAt = new Date(lastFire.getTime() + window.duration * 1000);
    if (now.getTime() < closesAt.getTime()) return { open: true, closesAt };
  }
  return { open: false, nextOpen: cron.nextRun(now) };
}
