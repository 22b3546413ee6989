import { describe, expect, it } from 'vitest';
import { KeyedLock } from './keyed-lock.js';

describe('KeyedLock', () => {
  it('runs one operation per key at a time, keys independently, failures release', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const step = (name: string, ms: number) => async () => {
      order.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${name}-`);
      return name;
    };
    const a1 = lock.run('a', step('a1', 30));
    const a2 = lock.run('a', async () => {
      throw new Error('boom');
    });
    const a3 = lock.run('a', step('a3', 1));
    const b1 = lock.run('b', step('b1', 1));
    expect(await a1).toBe('a1');
    await expect(a2).rejects.toThrow('boom');
    expect(await a3).toBe('a3');
    expect(await b1).toBe('b1');
    expect(order.indexOf('a1-')).toBeLessThan(order.indexOf('a3+'));
    expect(order.indexOf('b1-')).toBeLessThan(order.indexOf('a1-')); // b did not wait for a
  });
});
