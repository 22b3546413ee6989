import { afterEach, describe, expect, it, vi } from 'vitest';
import { HandleStore } from './handles.js';

afterEach(() => vi.useRealTimers());

describe('HandleStore', () => {
  it('derives new handles and leaves the old ones as they were', () => {
    const store = new HandleStore();
    const h1 = store.forNew('c1', { name: 'x' });
    const h2 = store.derive(h1, () => ({ logging: true }));
    expect(h2).not.toBe(h1);
    expect(store.get(h1).logging).toBe(false);
    expect(store.get(h2).logging).toBe(true);
    expect(Object.isFrozen(store.get(h2))).toBe(true);
  });

  it('refuses a stale handle and forgets a taken one', () => {
    const store = new HandleStore();
    const a = store.forExisting('c1');
    const b = store.forExisting('c1');
    store.take(a, true);
    store.bump('c1');
    expect(() => store.take(b, true)).toThrow(/stale/);
    expect(() => store.get(a)).toThrow(/no such handle/);
    const fresh = store.forExisting('c1');
    expect(store.take(fresh, true).base).toBe(1);
    const create = store.forNew('c2', {});
    expect(() => store.take(create, true)).toThrow(/stale/);
  });

  it('lets unused handles expire and keeps at most its limit', () => {
    vi.useFakeTimers();
    const store = new HandleStore(60_000, 3);
    const old = store.forExisting('c');
    vi.advanceTimersByTime(61_000);
    expect(() => store.get(old)).toThrow(/expired/);
    const hs = [1, 2, 3, 4].map(() => store.forExisting('c'));
    expect(() => store.get(hs[0])).toThrow(/no such handle/);
    expect(store.get(hs[3]).containerId).toBe('c');
  });
});
