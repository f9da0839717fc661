import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/xapi/limiter.js';
import { backoffDelay, isReadOnlyMethod } from '../../src/xapi/retry.js';

describe('isReadOnlyMethod: which calls may be repeated when their outcome is unknown', () => {
  it.each([
    ['VM.get_all_records', true],
    ['VM.get_record', true],
    ['event.from', true],
    ['session.login_with_password', true],
    // why: repeating these could create a second VM or double an effect
    ['VM.clone', false],
    ['VM.start', false],
    ['Async.VM.get_record', false],
    ['VM.set_name_label', false],
    ['pool.add_to_other_config', false],
    ['task.destroy', false],
  ])('%s -> %s', (method, readOnly) => {
    expect(isReadOnlyMethod(method)).toBe(readOnly);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and is jittered below the bound', () => {
    expect(backoffDelay(0, 100, 5000, () => 0.999)).toBe(99);
    expect(backoffDelay(3, 100, 5000, () => 0.999)).toBe(799);
    expect(backoffDelay(20, 100, 5000, () => 0.999)).toBe(4995);
    expect(backoffDelay(3, 100, 5000, () => 0)).toBe(0);
  });
});

describe('Limiter', () => {
  it('never runs more than max at once and runs everything', async () => {
    const limiter = new Limiter(3);
    let active = 0;
    let peak = 0;
    const done = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 1 + (i % 3)));
          active--;
          return i;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(limiter.inFlight).toBe(0);
  });

  it('releases the slot when the task throws', async () => {
    const limiter = new Limiter(1);
    await expect(limiter.run(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await limiter.run(async () => 'next')).toBe('next');
  });
});
