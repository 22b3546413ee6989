// PodMonitor: watches one created pod on the VCH — long-polls `wait` on its running tasks —
// starts its containers in the kubelet's order (init-sequence.ts), applies its restartPolicy
// with back-off when a task exits, and stops what still runs once the pod has finished
// (sidecars after the app containers) or run past its activeDeadlineSeconds. Every change of what it sees
// goes to `onChange` (the provider pushes the pod's status from there).
import { errorKind, errorMessage } from '../../../node/errors.js';
import type { Logger } from '../../../logging/logger.js';
import type { ContainerRecord, VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy, TaskInfo } from '../proxy/isolation-proxy.js';
import type { PodStarter } from './pod-starter.js';
import { startFailed, terminatedState } from './pod-status.js';
import { nextAttempt } from './restart-policy.js';
import { readFallbacks } from './termination-message.js';
import { containerEvents, podLabel } from './container-events.js';
import type { PodEvent } from '../../../node/provider.js';
import {
  DEADLINE_MESSAGE,
  DEADLINE_REASON,
  deadlineAt,
  deadlinePassed,
} from './active-deadline.js';
import { mayStart, podFinished, restartsAfter, stopOrder, type Tasks } from './init-sequence.js';
import { PodStopper, SIGKILL } from './pod-stopper.js';

/** How long one `wait` long-poll lasts before it is asked again (s). */
const WAIT_SEC = 30;
/** Pause after the VCH failed to answer (ms). */
const RETRY_MS = 1000;
/** Pause after the VCH refused a start (ms): never a hot loop, whatever the VCH says. */
const REFUSED_MS = 100;
/** The pod's grace period when its spec does not say (s), as the API server defaults it. */
const DEFAULT_GRACE_SEC = 30;

const anyTaskRunning = (tasks: TaskInfo[] | undefined) =>
  (tasks ?? []).some((t) => t.processConfig.status === 'running');

export class PodMonitor {
  private readonly abort = new AbortController();
  /** Settles when the loop has ended. */
  done: Promise<void> = Promise.resolve();

  constructor(
    private readonly vp: VicPod,
    private readonly isolation: IsolationProxy,
    private readonly starter: PodStarter,
    private readonly onChange: (vp: VicPod) => void,
    private readonly log: Logger,
    /** Runs once a task has started (its postStart hook), before anything else of the pod. */
    private readonly afterStart?: (
      vp: VicPod,
      task: TaskInfo,
      signal: AbortSignal,
    ) => Promise<void>,
    /** Where the pod's Events go (Created, Started, BackOff, DeadlineExceeded). */
    private readonly onEvent?: (e: PodEvent) => void,
  ) {
    this.stopper = new PodStopper(isolation);
  }

  private readonly stopper: PodStopper;

  start(): void {
    this.done = this.loop().catch((err) =>
      this.log.error({ pod: this.name, err: errorMessage(err) }, 'pod monitor failed'),
    );
  }

  /** Stops watching (the pod keeps running) and waits for the loop to end. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  private get name(): string {
    return `${this.vp.pod.metadata?.namespace}/${this.vp.pod.metadata?.name}`;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    const id = this.vp.id!;
    while (!signal.aborted) {
      try {
        this.vp.info = await this.isolation.info(id);
        await readFallbacks(this.vp, this.isolation);
      } catch (err) {
        if (signal.aborted) return;
        if (errorKind(err) === 'NotFound') {
          // Removed behind our back: its tasks are gone; report what was last seen as ended.
          this.log.warn({ pod: this.name, id }, 'pod vanished from the VCH');
          for (const t of this.vp.info?.tasks ?? []) {
            if (t.processConfig.status === 'running')
              t.processConfig = {
                ...t.processConfig,
                status: 'exited',
                exitCode: 137,
                reason: 'Lost',
              };
          }
          this.onChange(this.vp);
          return;
        }
        await sleep(RETRY_MS, signal);
        continue;
      }
      if (signal.aborted) return;
      const now = Date.now();
      const spec = this.vp.pod.spec;
      const tasks = new Map((this.vp.info.tasks ?? []).map((t) => [t.name, t]));
      if (!this.vp.failure && !podFinished(spec, tasks) && deadlinePassed(this.vp, now)) {
        this.log.info({ pod: this.name }, DEADLINE_MESSAGE);
        this.onEvent?.({ type: 'Normal', reason: DEADLINE_REASON, message: DEADLINE_MESSAGE });
      }
      // A container being recreated with a new image has ended only for now.
      const replacing = [...this.vp.containers.values()].some((c) => c.replacing);
      if (!replacing && (this.vp.failure || podFinished(spec, tasks))) {
        // Finished for good: nothing starts again, and what still runs (sidecars; everything
        // past the deadline) is stopped — app containers first, then sidecars in reverse.
        for (const c of this.vp.containers.values()) {
          c.restartDueAt = undefined;
          if (c.waiting?.reason === 'CrashLoopBackOff') c.waiting = undefined;
        }
        if (anyTaskRunning(this.vp.info.tasks)) {
          this.onChange(this.vp);
          await this.attempt(() => this.stopRunning(), 'stop');
          continue;
        }
        this.onChange(this.vp);
        return;
      }
      let acted = false;
      for (const task of this.vp.info.tasks ?? []) {
        const c = this.vp.containers.get(task.name);
        const p = task.processConfig;
        if (!c || c.replacing) continue;
        if (p.status === 'created' && !startFailed(p)) {
          // Its turn yet? Init containers go one by one, app containers after them.
          if (!mayStart(spec, task.name, tasks)) continue;
          // Committed, not started yet (or vic-kubelet stopped in between): start it.
          await this.startTask(id, task, 'start');
          acted = true;
          break;
        }
        if (p.status !== 'exited' && !startFailed(p)) continue;
        if (c.restartDueAt === undefined && !this.scheduleRestart(c, task, now, tasks)) continue;
        if (c.restartDueAt! <= now) {
          c.lastTermination = lastTermination(task, this.vp);
          c.waiting = undefined;
          c.restartDueAt = undefined;
          this.log.info({ pod: this.name, container: c.name }, 'restarting container');
          await this.startTask(id, task, 'restart');
          acted = true;
          break; // look again before anything else
        }
      }
      if (acted) continue;
      this.onChange(this.vp);
      const running = (this.vp.info.tasks ?? []).filter(
        (t) => t.processConfig.status === 'running',
      );
      const dues = [...this.vp.containers.values()]
        .map((c) => c.restartDueAt)
        .filter((d): d is number => d !== undefined);
      if (running.length === 0 && dues.length === 0 && !replacing) return; // finished for good
      const deadline = deadlineAt(this.vp);
      if (deadline !== undefined) dues.push(deadline);
      await this.waitForChange(running, dues.length ? Math.min(...dues) - Date.now() : undefined);
    }
  }

  /** Stops the pod's running tasks in the kubelet's order, within its grace period. */
  private async stopRunning(): Promise<void> {
    const spec = this.vp.pod.spec;
    const grace = spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SEC;
    const tasks = this.vp.info?.tasks ?? [];
    await this.stopper.stopTasks(this.vp.id!, tasks, grace, stopOrder(spec));
    const now = new Map((await this.isolation.info(this.vp.id!)).tasks?.map((t) => [t.id, t]));
    // The last group is only signalled: what outlived the grace period is killed.
    for (const t of tasks)
      if (now.get(t.id)?.processConfig.status === 'running')
        await this.isolation.signal(t.id, SIGKILL).catch(() => undefined);
  }

  /** Decides on an exit just seen; false when the policy leaves the container stopped. */
  private scheduleRestart(c: ContainerRecord, task: TaskInfo, now: number, tasks: Tasks): boolean {
    const p = task.processConfig;
    if (!restartsAfter(this.vp.pod.spec, task.name, p.exitCode ?? 0, tasks)) return false;
    const started = p.startedAt ? Date.parse(p.startedAt) : (p.startTime ?? 0) * 1000;
    const finished = p.finishedAt ? Date.parse(p.finishedAt) : (p.stopTime ?? 0) * 1000;
    const delay = c.backoffMs;
    c.restartDueAt = nextAttempt(c, now, finished - started);
    if (c.restartDueAt > now) {
      this.onEvent?.(containerEvents.backOff(this.vp.pod, c.name));
      c.waiting = {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.name} pod=${podLabel(this.vp.pod)}`,
      };
    }
    return true;
  }

  /** Starts (or restarts) the task; once it runs, its afterStart work (postStart hook). */
  private async startTask(id: string, task: TaskInfo, what: string): Promise<void> {
    // The kubelet's sequence for each run: (image present,) Created, Started — or Failed.
    const name = task.name;
    if (what === 'restart')
      this.onEvent?.(containerEvents.present(name, this.vp.containers.get(name)?.image ?? ''));
    this.onEvent?.(containerEvents.created(name));
    const started = await this.attempt(
      () => this.starter.startTask(id, task.id),
      what,
      (err) => this.onEvent?.(containerEvents.error(name, errorMessage(err))),
    );
    if (!started) return;
    this.onEvent?.(containerEvents.started(name));
    if (!this.afterStart || this.abort.signal.aborted) return;
    try {
      await this.afterStart(this.vp, task, this.abort.signal);
    } catch (err) {
      this.log.warn({ pod: this.name, err: errorMessage(err) }, `after ${what}`);
    }
  }

  /**
   * A start the VCH refused for the container itself (InvalidInput: exec failed, no such user)
   * is recorded on the task and handled as its run ending; anything else is asked again.
   */
  private async attempt(
    action: () => Promise<void>,
    what: string,
    /** Hears a start the VCH refused for the container itself. */
    onRefused?: (err: unknown) => void,
  ): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (err) {
      if (this.abort.signal.aborted) return false;
      this.log.warn({ pod: this.name, err: errorMessage(err) }, `${what} failed`);
      if (errorKind(err) === 'InvalidInput') onRefused?.(err);
      // A refused start is looked at again soon (its task now says why); anything else later.
      const pause = errorKind(err) === 'InvalidInput' ? REFUSED_MS : RETRY_MS;
      await sleep(pause, this.abort.signal);
      return false;
    }
  }

  /** Looks again at once (the pod's spec changed: a new activeDeadlineSeconds). */
  poke(): void {
    this.round?.abort();
  }

  private round: AbortController | undefined;

  /** Until a running task exits, a restart or the deadline falls due, or the monitor stops. */
  private async waitForChange(running: TaskInfo[], dueInMs: number | undefined): Promise<void> {
    const round = (this.round = new AbortController());
    // The round ends with the monitor too (a listener removed after the round, not
    // AbortSignal.any: its link to the long-lived signal outlived each round).
    const signal = round.signal;
    const stop = () => round.abort();
    if (this.abort.signal.aborted) stop();
    else this.abort.signal.addEventListener('abort', stop, { once: true });
    const waits: Promise<unknown>[] = running.map((t) =>
      this.isolation.wait(t.id, WAIT_SEC, signal).catch(async (err) => {
        // A VCH that cannot answer is asked again after a pause, not in a hot loop.
        if (!signal.aborted && errorKind(err) !== 'NotFound') await sleep(RETRY_MS, signal);
      }),
    );
    if (dueInMs !== undefined) waits.push(sleep(Math.max(0, dueInMs), signal));
    // poke() ends the round too, even with nothing running.
    waits.push(new Promise((r) => signal.addEventListener('abort', r, { once: true })));
    try {
      await Promise.race(waits);
    } finally {
      round.abort();
      this.abort.signal.removeEventListener('abort', stop);
    }
  }
}

function lastTermination(task: TaskInfo, vp: VicPod) {
  const t = terminatedState(task, vp);
  return {
    exitCode: t.exitCode,
    reason: t.reason ?? 'Error',
    message: t.message,
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
