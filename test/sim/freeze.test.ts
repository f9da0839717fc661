import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { jsonOk, login } from './helpers.js';

let sim: Simulator;
let s: string;
const call = (method: string, ...params: unknown[]): Promise<any> => jsonOk(sim.url, method, s, ...params);

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  s = await login(sim);
});
afterAll(async () => {
  sim.faults.clear();
  await sim.stop();
});

describe('freezeAfter: the simulator stops answering after the nth write', () => {
  it('counts writes only, runs the nth, then holds it and every later request until cleared', async () => {
    sim.faults.inject({ freezeAfter: { writes: 2 } });
    await call('network.create', { name_label: 'first', other_config: {} });
    // Reads do not count.
    expect(await call('network.get_all')).toBeInstanceOf(Array);
    expect(sim.faults.state().freezeAfterWrites).toBe(1);
    const second = call('network.create', { name_label: 'second', other_config: {} });
    await sim.faults.freeze.whenFrozen();
    // The second write happened; its reply is held, and so is any later request.
    expect(sim.db.findByName('network', 'second')).toHaveLength(1);
    expect(sim.faults.state().frozen).toBe(true);
    const later = call('network.get_all');
    const outcomes: string[] = [];
    second.then(() => outcomes.push('second answered'), () => outcomes.push('second cut'));
    later.then(() => outcomes.push('later answered'), () => outcomes.push('later cut'));
    await sim.faults.freeze.whenHolding(2);
    expect(outcomes).toEqual([]);
    // Cleared: both held connections are cut, and the simulator answers again.
    sim.faults.clear();
    await Promise.allSettled([second, later]);
    expect(outcomes.sort()).toEqual(['later cut', 'second cut']);
    expect(await call('network.get_all')).toBeInstanceOf(Array);
  });
});
