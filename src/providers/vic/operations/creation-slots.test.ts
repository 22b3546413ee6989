import { describe, expect, it } from 'vitest';
import { CreationSlots } from './creation-slots.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('CreationSlots', () => {
  it('runs at most N at once, the rest in arrival order', async () => {
    const slots = new CreationSlots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const jobs = [0, 1, 2, 3, 4].map((i) =>
      slots.run(async () => {
        running++;
        most = Math.max(most, running);
        order.push(i);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return i;
      }),
    );
    await tick();
    expect(order).toEqual([0, 1]);
    while (gates.length > 0) {
      gates.shift()!();
      await tick();
      await tick();
    }
    expect(await Promise.all(jobs)).toEqual([0, 1, 2, 3, 4]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });

  it('frees the slot when the job fails, and a waiter that gives up leaves the queue', async () => {
    const slots = new CreationSlots(1);
    await expect(slots.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    let release!: () => void;
    const first = slots.run(() => new Promise<void>((r) => (release = r)));
    const ac = new AbortController();
    const gaveUp = slots.run(async () => 'never', ac.signal);
    const third = slots.run(async () => 'third');
    ac.abort(new Error('gone'));
    await expect(gaveUp).rejects.toThrow('gone');
    release();
    await first;
    expect(await third).toBe('third');
  });
});
