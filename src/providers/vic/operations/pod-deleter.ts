// PodDeleter: stops a pod (PodStopper) and removes it from the VCH, then from the cache. A pod
// the VCH no longer has is deleted already.
import { errorKind } from '../../../node/errors.js';
import type { PodCache } from '../cache/pod-cache.js';
import type { VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy } from '../proxy/isolation-proxy.js';
import { stopOrder } from './init-sequence.js';
import type { PodStopper, PreStop } from './pod-stopper.js';

export class PodDeleter {
  constructor(
    private readonly isolation: IsolationProxy,
    private readonly stopper: PodStopper,
    private readonly cache: PodCache,
    /** The preStop hooks of a pod's containers (hook-runner.ts). */
    private readonly preStop?: (vp: VicPod) => PreStop,
  ) {}

  /** `onStopped` sees the pod's info once its tasks have stopped, before it is removed. */
  async delete(vp: VicPod, graceSec: number, onStopped?: () => void): Promise<void> {
    if (vp.id) {
      try {
        // App containers first, then the sidecars in reverse (init-sequence.ts stopOrder).
        vp.info = await this.stopper.stop(vp.id, graceSec, {
          preStop: this.preStop?.(vp),
          order: stopOrder(vp.pod.spec),
        });
        onStopped?.();
        await this.isolation.remove(vp.id, true);
      } catch (err) {
        if (errorKind(err) !== 'NotFound') throw err;
      }
    }
    this.cache.delete(vp);
  }
}
