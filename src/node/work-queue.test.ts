import { describe, expect, it } from 'vitest';
import { WorkQueue } from './work-queue.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('never runs one key twice at once, and runs it again if it was added meanwhile', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const q = new WorkQueue(
      async () => {
        running++;
        most = Math.max(most, running);
        runs++;
        await tick(20);
        running--;
      },
      { workers: 4 },
    );
    q.add('ns/a');
    await tick(5);
    q.add('ns/a'); // while running: once more afterwards
    q.add('ns/a'); // folded into the same rerun
    await tick(5);
    await q.idle();
    expect(most).toBe(1);
    expect(runs).toBe(2);
  });

  it('runs different keys in parallel up to the worker count', async () => {
    let running = 0;
    let most = 0;
    const q = new WorkQueue(
      async () => {
        running++;
        most = Math.max(most, running);
        await tick(20);
        running--;
      },
      { workers: 3 },
    );
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    await q.idle();
    expect(most).toBe(3);
  });

  it('retries a failing key with growing delays, then drops it', async () => {
    const times: number[] = [];
    let dropped = '';
    const q = new WorkQueue(
      async () => {
        times.push(Date.now());
        throw new Error('provider down');
      },
      { workers: 1, baseDelayMs: 10, maxRetries: 3, onDrop: (key) => (dropped = key) },
    );
    q.add('ns/x');
    await until(() => dropped === 'ns/x');
    expect(times).toHaveLength(4);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[1]!).toBeGreaterThanOrEqual(gaps[0]! + 5); // 10, 20, 40 ms
    expect(gaps[2]!).toBeGreaterThanOrEqual(35);
  });

  it('comes back to a key after the delay a handler asks for', async () => {
    let runs = 0;
    const q = new WorkQueue(async () => (++runs < 3 ? { requeueAfterMs: 10 } : undefined), {
      workers: 1,
    });
    q.add('k');
    await until(() => runs === 3);
    await tick(30);
    expect(runs).toBe(3);
  });
});

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await tick(10);
  expect(ok()).toBe(true);
}
