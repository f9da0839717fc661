import { startSimulator, type Simulator, type SimOptions } from './index.js';

/** At most this many simulated pools in one process (each has its own listeners and model). */
export const MAX_SIM_POOLS = 100;

/**
 * Starts `count` independent simulated pools from one seed, for fleets: when there are several, pool
 * `i` (from 1) is named `pool-<i>`; it listens on `port + i - 1` (or on a free port when `port` is 0), so each pool has its
 * own name and addresses. On a failure the pools already started are stopped.
 */
export async function startSimulators(count: number, options: SimOptions): Promise<Simulator[]> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SIM_POOLS) throw new RangeError(`pools must be between 1 and ${MAX_SIM_POOLS}, not ${count}`);
  const sims: Simulator[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const sim = await startSimulator({ ...options, port: options.port ? options.port + i - 1 : 0 });
      sims.push(sim);
      if (count > 1) sim.db.set(sim.poolRef, 'name_label', `pool-${i}`);
    }
  } catch (err) {
    await Promise.all(sims.map((s) => s.stop()));
    throw err;
  }
  return sims;
}
