import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('lets a burst through at once, then the sustained rate, in order', async () => {
    const bucket = new TokenBucket(50, 5); // 50/s after a burst of 5
    const start = performance.now();
    const done: number[] = [];
    await Promise.all(Array.from({ length: 15 }, (_, i) => bucket.take().then(() => done.push(i))));
    const took = performance.now() - start;
    expect(done).toEqual([...Array(15).keys()]);
    // 10 beyond the burst at 50/s: about 200 ms.
    expect(took).toBeGreaterThanOrEqual(180);
    expect(took).toBeLessThan(1000);
  });

  it('refuses a rate or burst that could never let anything through', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0)).toThrow(RangeError);
  });
});
