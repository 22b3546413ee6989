import { describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../cache/vic-pod.js';
import { backoffAfter, BACKOFF_MAX_MS, nextAttempt } from './restart-policy.js';

describe('the back-off after a node restart', () => {
  it('is where nextAttempt would have left it after as many restarts', () => {
    const c: ContainerRecord = { name: 'a', image: 'i', backoffMs: 0 };
    for (let restarts = 0; restarts < 12; restarts++) {
      expect(backoffAfter(restarts), `after ${restarts} restarts`).toBe(c.backoffMs);
      nextAttempt(c, 0);
    }
    expect(backoffAfter(1)).toBe(10_000);
    expect(backoffAfter(3)).toBe(40_000);
    expect(backoffAfter(1000)).toBe(BACKOFF_MAX_MS);
  });
});
