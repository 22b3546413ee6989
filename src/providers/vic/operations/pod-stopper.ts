// PodStopper: stops a pod as the kubelet does — SIGTERM to every task, up to the grace period
// for them to exit, then SIGKILL — and records it stopped on the VCH (state STOPPED, commit),
// so the VCH does not start it again when it restarts.
import { errorKind } from '../../../node/errors.js';
import type { ContainerInfo, IsolationProxy } from '../proxy/isolation-proxy.js';
import { retryOnConflict } from './retry.js';

export const SIGTERM = 15;
export const SIGKILL = 9;

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
      await this.signal(id, SIGTERM);
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
