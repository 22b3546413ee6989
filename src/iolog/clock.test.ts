import { describe, expect, it } from 'vitest';
import { arrivalClock, steppingClock, systemClock } from './clock.js';

describe('clocks', () => {
  it('systemClock is Unix nanoseconds, close to Date.now()', () => {
    const ns = systemClock();
    expect(Number(ns / 1_000_000n)).toBeGreaterThan(Date.now() - 1000);
    expect(Number(ns / 1_000_000n)).toBeLessThan(Date.now() + 1000);
    expect(systemClock()).toBeGreaterThanOrEqual(ns);
  });

  it('arrivalClock reads its source once per synchronous run, again after it yields', async () => {
    let reads = 0;
    const clock = arrivalClock(() => BigInt(++reads));
    expect([clock(), clock(), clock()]).toEqual([1n, 1n, 1n]);
    await Promise.resolve();
    expect([clock(), clock()]).toEqual([2n, 2n]);
    await new Promise((r) => setTimeout(r, 1));
    expect(clock()).toBe(3n);
    expect(reads).toBe(3);
  });

  it('steppingClock starts one step after its start', () => {
    const c = steppingClock(100n, 7n);
    expect([c(), c(), c()]).toEqual([107n, 114n, 121n]);
  });
});
