// One probe of one container, as the kubelet's probe worker runs it (pkg/kubelet/prober/
// worker.go): every periodSeconds, while the container runs and initialDelaySeconds have passed
// since it started, the probe runs with its timeout (a timeout is a failure); the result only
// changes after failureThreshold failures or successThreshold successes in a row. Readiness
// starts failed, liveness succeeded, startup not yet. Liveness and readiness wait until the
// startup probe has succeeded; a startup probe stops once it has. A liveness (or startup) probe
// whose result turns to failure holds still until the container runs again (its restart).
// Each worker runs on its own: a slow probe delays only itself.
import type * as k8s from '@kubernetes/client-node';
import type { ProbeOutcome } from './probe-handlers.js';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

/** One run of the container: its identity (a restart is a new run) and when it started. */
export interface ContainerRun {
  key: string;
  startedAtMs: number;
}

export interface ProbeWorkerDeps {
  /** The container's current run, or undefined while it does not run. */
  current(): ContainerRun | undefined;
  /** Whether liveness and readiness must wait (the startup probe has not succeeded). */
  gated(): boolean;
  /** Runs the probe's action once, within `timeoutSec`. */
  run(timeoutSec: number, signal: AbortSignal): Promise<ProbeOutcome>;
  /** Each failed probe (the kubelet's Unhealthy Event). */
  failedOnce(kind: ProbeKind, outcome: ProbeOutcome): void;
  /** The result changed (the pod's status may have). */
  changed(kind: ProbeKind): void;
  /** A liveness or startup probe failed for good: the container is to be killed. */
  failed(kind: ProbeKind, outcome: ProbeOutcome): void;
  now(): number;
}

/** Liveness starts succeeded, readiness failed, startup undecided (the kubelet's). */
const initialResult = (kind: ProbeKind) =>
  kind === 'liveness' ? true : kind === 'readiness' ? false : undefined;

export class ProbeWorker {
  /** The current result; undefined: none yet (a startup probe). */
  private result: boolean | undefined;
  private runKey: string | undefined;
  private lastOk: boolean | undefined;
  private streak = 0;
  private onHold = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private readonly periodMs: number;
  private readonly timeoutSec: number;
  private readonly successThreshold: number;
  private readonly failureThreshold: number;
  private readonly initialDelayMs: number;

  constructor(
    readonly kind: ProbeKind,
    probe: k8s.V1Probe,
    private readonly deps: ProbeWorkerDeps,
  ) {
    this.result = initialResult(kind);
    // The API server's defaults, for a pod that did not come through it (vic-kubelet run).
    this.periodMs = Math.max(1, probe.periodSeconds ?? 10) * 1000;
    this.timeoutSec = Math.max(1, probe.timeoutSeconds ?? 1);
    // Liveness and startup must succeed once to count (the API server holds them to 1).
    this.successThreshold = kind === 'readiness' ? Math.max(1, probe.successThreshold ?? 1) : 1;
    this.failureThreshold = Math.max(1, probe.failureThreshold ?? 3);
    this.initialDelayMs = Math.max(0, probe.initialDelaySeconds ?? 0) * 1000;
  }

  /** The current result: succeeded (ready, alive, started) or not. */
  get ok(): boolean {
    return this.result === true;
  }

  /**
   * Starts probing: at once, then every period, as the kubelet's ticker: a probe that ran long
   * shortens the wait for the next (never two at once).
   */
  start(): void {
    const loop = async () => {
      if (this.abort.signal.aborted) return;
      const began = Date.now();
      await this.tick();
      const wait = Math.max(0, this.periodMs - (Date.now() - began));
      if (!this.abort.signal.aborted) this.timer = setTimeout(() => void loop(), wait);
    };
    void loop();
  }

  stop(): void {
    this.abort.abort();
    clearTimeout(this.timer);
  }

  /** One round: decides whether to probe, probes, and moves the result on. */
  async tick(): Promise<void> {
    const run = this.deps.current();
    if (!run) return this.reset(undefined);
    if (run.key !== this.runKey) this.reset(run.key);
    if (this.onHold) return;
    if (this.kind === 'startup' && this.ok) return; // started: done for this run
    if (this.kind !== 'startup' && this.deps.gated()) return;
    if (this.deps.now() - run.startedAtMs < this.initialDelayMs) return;
    let outcome: ProbeOutcome;
    try {
      outcome = await withDeadline(
        this.deps.run(this.timeoutSec, this.abort.signal),
        // The VCH kills the command at its limit; this bounds a VCH that does not answer.
        (this.timeoutSec + 5) * 1000,
        this.timeoutSec,
      );
    } catch (err) {
      outcome = { ok: false, output: (err as Error).message };
    }
    if (this.abort.signal.aborted || this.deps.current()?.key !== this.runKey) return;
    this.record(outcome);
  }

  private record(outcome: ProbeOutcome): void {
    if (!outcome.ok) this.deps.failedOnce(this.kind, outcome);
    this.streak = outcome.ok === this.lastOk ? this.streak + 1 : 1;
    this.lastOk = outcome.ok;
    const threshold = outcome.ok ? this.successThreshold : this.failureThreshold;
    if (this.streak < threshold || this.result === outcome.ok) return;
    this.result = outcome.ok;
    this.deps.changed(this.kind);
    if (!outcome.ok && this.kind !== 'readiness') {
      this.onHold = true;
      this.deps.failed(this.kind, outcome);
    }
  }

  /** A new run (or none): the result starts over. */
  private reset(key: string | undefined): void {
    const before = this.result;
    this.runKey = key;
    this.result = initialResult(this.kind);
    this.lastOk = undefined;
    this.streak = 0;
    this.onHold = false;
    if (before !== this.result) this.deps.changed(this.kind);
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, timeoutSec: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`probe timed out after ${timeoutSec}s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
