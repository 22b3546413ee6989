// PodStopper: stops a pod as the kubelet does — each running task gets its stop signal (the
// image's STOPSIGNAL, SIGTERM by default), up to the grace period for them to exit, then SIGKILL
// — and records it stopped on the VCH (state STOPPED, commit).
import { errorKind } from '../../../node/errors.js';
import type { ContainerInfo, IsolationProxy } from '../proxy/isolation-proxy.js';
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

export class PodStopper {
  constructor(private readonly isolation: IsolationProxy) {}

  /** Resolves with the pod's info once none of its tasks runs. */
  async stop(id: string, graceSec: number): Promise<ContainerInfo> {
    let info = await this.isolation.info(id);
    if (anyRunning(info)) {
      const running = (info.tasks ?? []).filter((t) => t.processConfig.status === 'running');
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

  /** A task that exited between the look and the signal is not an error. */
  private async signal(id: string, signal: number): Promise<void> {
    try {
      await this.isolation.signal(id, signal);
    } catch (err) {
      if (errorKind(err) !== 'Conflict') throw err;
    }
  }
}
