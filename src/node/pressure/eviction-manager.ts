// The kubelet's eviction manager, as far as a virtual node needs it: every interval, while a
// hard threshold is met, the provider evicts one pod — the first in the kubelet's order
// (eviction-order.ts) — and it ends Failed with reason Evicted. One at a time, so that what a
// pod frees is seen before the next goes.
import type * as k8s from '@kubernetes/client-node';
import { errorMessage } from '../errors.js';
import type { Logger } from '../../logging/logger.js';
import type { Provider } from '../provider.js';
import { evictionMessage } from './conditions.js';
import { evictionOrder } from './eviction-order.js';
import type { Threshold } from './thresholds.js';

export interface EvictionManagerOptions {
  provider: Provider;
  /** The thresholds met as of the last node status. */
  met: () => Threshold[];
  /** The pods bound to the node, as last seen. */
  pods: () => k8s.V1Pod[];
  /** How often to look (ms); the kubelet's is 10 s. */
  intervalMs?: number;
  log: Logger;
}

export class EvictionManager {
  private timer: NodeJS.Timeout | undefined;
  private readonly evicted = new Set<string>();

  constructor(private readonly o: EvictionManagerOptions) {}

  start(): void {
    if (!this.o.provider.evictPod) return;
    this.timer = setInterval(() => void this.pass(), this.o.intervalMs ?? 10_000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look: evicts the first pod in line when a threshold is met. */
  async pass(): Promise<void> {
    const met = this.o.met();
    if (met.length === 0) return;
    const candidates = this.o
      .pods()
      .filter(
        (p) =>
          !p.metadata?.deletionTimestamp &&
          p.status?.phase !== 'Succeeded' &&
          p.status?.phase !== 'Failed' &&
          !this.evicted.has(p.metadata?.uid ?? ''),
      );
    const pod = evictionOrder(candidates)[0];
    if (!pod) return;
    this.evicted.add(pod.metadata?.uid ?? '');
    const message = evictionMessage(met);
    this.o.log.warn(
      {
        pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`,
        signals: met.map((t) => t.signal),
      },
      'evicting pod',
    );
    try {
      await this.o.provider.evictPod!(pod, message);
    } catch (err) {
      this.evicted.delete(pod.metadata?.uid ?? '');
      this.o.log.warn({ err: errorMessage(err) }, 'eviction failed');
    }
  }
}
