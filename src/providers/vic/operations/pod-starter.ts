// PodStarter: starts a committed pod (handle → state RUNNING → commit), and restarts one of its
// tasks that has exited (handle → task bind → commit), as VIC starts a task in a running
// container.
import type { IsolationProxy } from '../proxy/isolation-proxy.js';
import { retryOnConflict } from './retry.js';

export class PodStarter {
  constructor(private readonly isolation: IsolationProxy) {}

  start(id: string): Promise<void> {
    return retryOnConflict(async () => {
      const h = await this.isolation.handle(id);
      await this.isolation.commitHandle(await this.isolation.setState(h, 'RUNNING'));
    });
  }

  restartTask(id: string, taskId: string): Promise<void> {
    return retryOnConflict(async () => {
      const h = await this.isolation.handle(id);
      await this.isolation.commitHandle(await this.isolation.bindTask(h, taskId));
    });
  }
}
