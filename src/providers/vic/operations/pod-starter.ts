// PodStarter: starts a committed pod (handle → state RUNNING → commit), or one of its tasks
// (handle → task bind → commit), as VIC starts a task in a running container. The provider starts
// a pod's containers one by one, so that one that cannot start does not hold the others back
// (a commit is all or nothing).
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

  startTask(id: string, taskId: string): Promise<void> {
    return retryOnConflict(async () => {
      const h = await this.isolation.handle(id);
      await this.isolation.commitHandle(await this.isolation.bindTask(h, taskId));
    });
  }
}
