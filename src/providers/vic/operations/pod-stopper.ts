// PodStopper: stops a pod as the kubelet does — each running task gets its stop signal (the
// image's STOPSIGNAL, SIGTERM by default), up to the grace period for them to exit, then SIGKILL
// — and records it stopped on the VCH (state STOPPED, commit). Each running container's preStop
// hook (hook-runner.ts) runs first, inside the grace period; what is left of it is the stop's.
import { errorKind } from '../../../node/errors.js';
import type { ContainerInfo, IsolationProxy, TaskInfo } from '../proxy/isolation-proxy.js';
import { retryOnConflict } from './retry.js';

export const SIGTERM = 15;
export const SIGKILL = 9;

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

  /** Resolves with the pod's info once none of its tasks runs. */
  async stop(id: string, graceSec: number, preStop?: PreStop): Promise<ContainerInfo> {
    let info = await this.isolation.info(id);
    if (anyRunning(info)) {
      const running = (info.tasks ?? []).filter((t) => t.processConfig.status === 'running');
      graceSec = await runPreStop(preStop, running, graceSec);
      if (running.length === 0) await this.signal(id, SIGTERM);
      for (const t of running) await this.signal(t.id, signalNumber(t.stopSignal));
      if (graceSec > 0) info = await this.isolation.wait(id, graceSec);
      else info = await this.isolation.info(id);
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
