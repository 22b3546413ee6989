import { describe, expect, it } from 'vitest';
import { StoreLock } from './store-lock.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** A task that records its start and end and waits until released. */
function task(log: string[], name: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const fn = async () => {
    log.push(`${name} start`);
    await released;
    log.push(`${name} end`);
  };
  return { fn, release };
}

describe('StoreLock', () => {
  it('lets users run together; a collection waits for them, and later users wait for it', async () => {
    const lock = new StoreLock();
    const log: string[] = [];
    const [a, b, gc, c] = ['a', 'b', 'gc', 'c'].map((n) => task(log, n));
    const running = [lock.shared(a.fn), lock.shared(b.fn)];
    await tick();
    const collecting = lock.exclusive(gc.fn);
    const later = lock.shared(c.fn);
    await tick();
    expect(log).toEqual(['a start', 'b start']);
    a.release();
    await tick();
    expect(log).toEqual(['a start', 'b start', 'a end']);
    b.release();
    await tick();
    expect(log.slice(3)).toEqual(['b end', 'gc start']);
    gc.release();
    await tick();
    expect(log.slice(5)).toEqual(['gc end', 'c start']);
    c.release();
    await Promise.all([...running, collecting, later]);
  });

  it('runs collections one at a time, and a failed one lets users through', async () => {
    const lock = new StoreLock();
    const log: string[] = [];
    const first = lock.exclusive(async () => {
      log.push('first');
      await tick();
      throw new Error('boom');
    });
    const second = lock.exclusive(async () => void log.push('second'));
    const user = lock.shared(async () => void log.push('user'));
    await expect(first).rejects.toThrow('boom');
    await Promise.all([second, user]);
    expect(log).toEqual(['first', 'second', 'user']);
  });

  it('whenIdle: runs at once when idle; else after the running users, holding none back', async () => {
    const lock = new StoreLock();
    const log: string[] = [];
    expect(await lock.whenIdle(async () => (log.push('now'), 1))).toBe(1);
    const a = task(log, 'a');
    const running = lock.shared(a.fn);
    await tick();
    expect(await lock.whenIdle(async () => void log.push('first asked'))).toBeUndefined();
    expect(await lock.whenIdle(async () => void log.push('gc'))).toBeUndefined();
    // A user that comes now is not held back by the collection asked for.
    const b = task(log, 'b');
    const later = lock.shared(b.fn);
    await tick();
    expect(log).toEqual(['now', 'a start', 'b start']);
    a.release();
    b.release();
    await Promise.all([running, later]);
    await tick();
    // One collection (the latest asked for), after both.
    expect(log).toEqual(['now', 'a start', 'b start', 'a end', 'b end', 'gc']);
  });
});
