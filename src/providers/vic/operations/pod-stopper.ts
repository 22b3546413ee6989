// PodStopper: stops a pod as the kubelet does — each running task gets its stop signal (the
// image's STOPSIGNAL, SIGTERM by default), up to the grace period for them to exit, then SIGKILL
// — and records it stopped on the VCH (state STOPPED, commit). Each running container's preStop
// hook (hook-runner.ts) runs first, inside the grace period; what is left of it is the stop's.
import { errorKind } from '../../../node/errors.js';
import type { ContainerInfo, IsolationProxy, TaskInfo } from '../proxy/isolation-proxy.js';
import { retryOnConflict } from './retry.js';

export const SIGTERM = 15;
export const SIGKILL = 9;
/** The least grace a sidecar gets once the app containers have stopped (the kubelet's 2 s). */
const MIN_GRACE_MS = 2000;

// Linux's numbers of the signals an image may name as its STOPSIGNAL.
const SIGNALS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ABRT: 6,
  KILL: 9,
  USR1: 10,
  USR2: 12,
  ALRM: 14,
  TERM: 15,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  WINCH: 28,
  PWR: 30,
};

/** "SIGQUIT", "QUIT" or "3" → 3; anything else (or nothing) is SIGTERM. */
export function signalNumber(name: string | undefined): number {
  if (!name) return SIGTERM;
  if (/^\d+$/.test(name) && Number(name) >= 1 && Number(name) <= 64) return Number(name);
  return SIGNALS[name.toUpperCase().replace(/^SIG/, '')] ?? SIGTERM;
}

/** Whether any task of the pod still runs. */
export function anyRunning(info: ContainerInfo): boolean {
  const tasks = info.tasks ?? [];
  if (tasks.length === 0) return info.containerConfig?.state === 'Running';
  return tasks.some((t) => t.processConfig.status === 'running');
}

/** Runs the preStop hooks of `running` tasks, within `graceSec`. */
export type PreStop = (running: TaskInfo[], graceSec: number) => Promise<void>;

/** The kubelet's least grace a stop gets after the preStop hooks (s). */
export const MIN_GRACE_AFTER_HOOK_SEC = 2;

/** Runs the preStop hooks; answers the grace left for the stop signal. */
async function runPreStop(
  preStop: PreStop | undefined,
  running: TaskInfo[],
  graceSec: number,
): Promise<number> {
  if (!preStop || running.length === 0 || graceSec <= 0) return graceSec;
  const started = Date.now();
  await preStop(running, graceSec);
  const left = graceSec - Math.floor((Date.now() - started) / 1000);
  return Math.max(left, MIN_GRACE_AFTER_HOOK_SEC);
}

export class PodStopper {
  constructor(private readonly isolation: IsolationProxy) {}

  /**
   * Resolves with the pod's info once none of its tasks runs. `order` groups task names to
   * stop one group after the other (app containers, then each sidecar: init-sequence.ts
   * stopOrder); the grace period is shared, and a group still running when its share is up is
   * killed before the next is signalled. Tasks it does not name are stopped with the first.
   * Each group's preStop hooks run right before its stop signal, inside the grace period.
   */
  async stop(
    id: string,
    graceSec: number,
    o: { preStop?: PreStop; order?: string[][] } = {},
  ): Promise<ContainerInfo> {
    let info = await this.isolation.info(id);
    if (anyRunning(info)) {
      if (!(info.tasks ?? []).some((t) => t.processConfig.status === 'running'))
        await this.signal(id, SIGTERM);
      else await this.stopTasks(id, info.tasks!, graceSec, o.order, o.preStop);
      info = await this.isolation.info(id);
      if (anyRunning(info)) {
        await this.signal(id, SIGKILL);
        info = await this.isolation.wait(id, 30);
      }
    }
    await retryOnConflict(async () => {
      const h = await this.isolation.handle(id);
      await this.isolation.commitHandle(await this.isolation.setState(h, 'STOPPED'), 0);
    });
    return this.isolation.info(id);
  }

  /**
   * Signals the running ones of `tasks` (of pod `id`), group by group, each after its preStop
   * hooks, and waits for each group within what is left of the grace period. The last group is
   * left to the caller's SIGKILL.
   */
  async stopTasks(
    id: string,
    tasks: TaskInfo[],
    graceSec: number,
    order?: string[][],
    preStop?: PreStop,
  ): Promise<void> {
    let end = Date.now() + graceSec * 1000;
    const running = tasks.filter((t) => t.processConfig.status === 'running');
    const named = new Set(order?.flat());
    const groups = (order ?? [[]]).map((names, i) =>
      running.filter((t) => names.includes(t.name) || (i === 0 && !named.has(t.name))),
    );
    const nonEmpty = groups.filter((g) => g.length > 0);
    for (const [i, group] of nonEmpty.entries()) {
      const left = Math.ceil((end - Date.now()) / 1000);
      if (left > 0 && preStop) {
        const after = await runPreStop(preStop, group, left);
        end = Math.max(end, Date.now() + after * 1000);
      }
      for (const t of group) await this.signal(t.id, signalNumber(t.stopSignal));
      // A later group gets at least the kubelet's minimum grace (2 s) once the ones before end.
      const floor = i > 0 && graceSec > 0 ? Date.now() + MIN_GRACE_MS : 0;
      for (const t of group) {
        const wait = Math.max(end, floor) - Date.now();
        if (wait > 0) await this.isolation.wait(t.id, Math.ceil(wait / 1000));
      }
      if (i === nonEmpty.length - 1) return;
      // Still running when its share is up: killed, so the next group stops after it.
      const now = new Map((await this.isolation.info(id)).tasks?.map((t) => [t.id, t]));
      for (const t of group)
        if (now.get(t.id)?.processConfig.status === 'running') await this.signal(t.id, SIGKILL);
    }
  }

  /**
   * Stops one task of the pod (a failed liveness probe or postStart hook): its preStop hook,
   * its stop signal, up to the grace period, then SIGKILL. Resolves once it has exited.
   */
  async stopTask(task: TaskInfo, graceSec: number, preStop?: PreStop): Promise<void> {
    if (task.processConfig.status !== 'running') return;
    graceSec = await runPreStop(preStop, [task], graceSec);
    await this.signal(task.id, signalNumber(task.stopSignal));
    const after = await this.isolation.wait(task.id, Math.max(0, graceSec));
    const still = (after.tasks ?? []).find((t) => t.id === task.id);
    if (still?.processConfig.status === 'running') {
      await this.signal(task.id, SIGKILL);
      await this.isolation.wait(task.id, 30);
    }
  }

  /** A task that exited between the look and the signal is not an error. */
  private async signal(id: string, signal: number): Promise<void> {
    try {
      await this.isolation.signal(id, signal);
    } catch (err) {
      if (errorKind(err) !== 'Conflict') throw err;
    }
  }
}
