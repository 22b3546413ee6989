import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ProbeOutcome } from './probe-handlers.js';
import {
  type ContainerRun,
  type ProbeKind,
  ProbeWorker,
  type ProbeWorkerDeps,
} from './probe-worker.js';

/** A worker whose probe answers from `answers` (true: success), on a clock the test moves. */
function harness(kind: ProbeKind, probe: object, answers: (boolean | 'hang')[] = []) {
  const h = {
    now: 0,
    run: { key: 'run1', startedAtMs: 0 } as ContainerRun | undefined,
    gated: false,
    probes: 0,
    unhealthy: [] as string[],
    failed: [] as ProbeKind[],
    changes: 0,
  };
  const deps: ProbeWorkerDeps = {
    current: () => h.run,
    gated: () => h.gated,
    run: () => {
      h.probes++;
      const a = answers.shift() ?? true;
      if (a === 'hang') return new Promise<ProbeOutcome>(() => {});
      return Promise.resolve({ ok: a, output: a ? '' : `no ${h.probes}` });
    },
    failedOnce: (_k, o) => h.unhealthy.push(o.output),
    changed: () => h.changes++,
    failed: (k) => h.failed.push(k),
    now: () => h.now,
  };
  return { h, w: new ProbeWorker(kind, probe, deps) };
}

afterEach(() => vi.useRealTimers());

describe('ProbeWorker', () => {
  it('readiness starts failed and turns ready after successThreshold successes in a row', async () => {
    const { h, w } = harness('readiness', { successThreshold: 2 }, [true, false, true, true]);
    expect(w.ok).toBe(false);
    await w.tick();
    await w.tick(); // a failure breaks the streak
    await w.tick();
    expect(w.ok).toBe(false);
    await w.tick();
    expect(w.ok).toBe(true);
    expect(h.changes).toBe(1);
    expect(h.unhealthy).toEqual(['no 2']);
  });

  it('liveness fails only after failureThreshold failures in a row, then holds until a new run', async () => {
    const { h, w } = harness('liveness', { failureThreshold: 3 }, [
      false,
      false,
      true,
      false,
      false,
      false,
    ]);
    for (let i = 0; i < 5; i++) await w.tick();
    expect(w.ok).toBe(true);
    expect(h.failed).toEqual([]);
    await w.tick();
    expect(w.ok).toBe(false);
    expect(h.failed).toEqual(['liveness']);
    expect(h.unhealthy).toHaveLength(5); // an Unhealthy Event for each failure
    await w.tick();
    expect(h.probes).toBe(6); // on hold: the container is being killed
    h.now = 10_000;
    h.run = { key: 'run2', startedAtMs: 10_000 }; // restarted
    await w.tick();
    expect(h.probes).toBe(7);
    expect(w.ok).toBe(true);
  });

  it('does not probe before initialDelaySeconds, nor while the container does not run', async () => {
    const { h, w } = harness('readiness', { initialDelaySeconds: 5 });
    h.now = 4_999;
    await w.tick();
    expect(h.probes).toBe(0);
    h.now = 5_000;
    await w.tick();
    expect(h.probes).toBe(1);
    expect(w.ok).toBe(true);
    h.run = undefined;
    await w.tick();
    expect(h.probes).toBe(1);
    expect(w.ok).toBe(false); // not running: not ready
  });

  it('liveness and readiness wait for the startup probe; startup stops once it succeeded', async () => {
    const live = harness('liveness', {}, [false]);
    live.h.gated = true;
    await live.w.tick();
    expect(live.h.probes).toBe(0);
    live.h.gated = false;
    await live.w.tick();
    expect(live.h.probes).toBe(1);

    const startup = harness('startup', { failureThreshold: 2 }, [false, true, false]);
    expect(startup.w.ok).toBe(false);
    await startup.w.tick();
    await startup.w.tick();
    expect(startup.w.ok).toBe(true);
    await startup.w.tick();
    expect(startup.h.probes).toBe(2);
  });

  it('a startup probe that fails failureThreshold times has the container killed', async () => {
    const { h, w } = harness('startup', { failureThreshold: 2 }, [false, false]);
    await w.tick();
    await w.tick();
    expect(h.failed).toEqual(['startup']);
    expect(w.ok).toBe(false);
  });

  it('a probe that does not answer times out as a failure; it does not hold another worker back', async () => {
    vi.useFakeTimers();
    const slow = harness('readiness', { periodSeconds: 1, timeoutSeconds: 1 }, ['hang', true]);
    const fast = harness('readiness', { periodSeconds: 1 });
    slow.w.start();
    fast.w.start();
    // The VCH kills the command at 1 s; a VCH that does not answer is given 5 s more.
    await vi.advanceTimersByTimeAsync(5_900);
    // Fast probed every second while slow's first probe hung.
    expect(fast.h.probes).toBeGreaterThanOrEqual(5);
    expect(slow.h.probes).toBe(1);
    expect(slow.h.unhealthy).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(slow.h.unhealthy).toEqual(['probe timed out after 1s']);
    // Its period long past, the next probe went at once (a ticker's), and passed.
    expect(slow.h.probes).toBe(2);
    expect(slow.w.ok).toBe(true);
    slow.w.stop();
    fast.w.stop();
  });
});
