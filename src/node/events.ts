// Kubernetes Events on a pod (what `kubectl describe pod` shows): why a create or a delete in
// the provider failed. A failure that repeats (each retry) counts up one Event, as kubelet's
// recorder does, rather than adding one per retry. Best effort: an Event that cannot be
// written is logged, never retried.
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { apiErrorMessage, type Kube } from './kube.js';
import type { Logger } from '../logging/logger.js';

export type EventReason =
  | 'ProviderCreateFailed'
  | 'ProviderUpdateFailed'
  | 'ProviderDeleteFailed'
  | 'ProviderStatusFailed'
  | 'Started'
  | 'Killing'
  // The kubelet's reasons for what a provider reports on a pod (kubelet pkg/kubelet/events).
  | 'Failed'
  | 'InvalidEnvironmentVariableNames'
  | 'Unhealthy'
  | 'FailedPostStartHook'
  | 'FailedPreStopHook'
  | 'DeadlineExceeded'
  | 'Evicted'
  // DNS (kubelet pkg/kubelet/network/dns).
  | 'MissingClusterDNS'
  | 'DNSConfigForming'
  // Admission: a pod rejected before it runs (lifecycle.PodAdmitResult reasons).
  | 'SysctlForbidden';

export class EventRecorder {
  /** The last Event written per pod UID, reason and message, to count repeats on. */
  private readonly recent = new Map<string, k8s.CoreV1Event>();

  constructor(
    private readonly kube: Kube,
    private readonly nodeName: string,
    private readonly log: Logger,
  ) {}

  async record(
    pod: k8s.V1Pod,
    type: 'Normal' | 'Warning',
    reason: EventReason,
    message: string,
  ): Promise<void> {
    const namespace = pod.metadata!.namespace!;
    const now = new Date();
    const key = `${pod.metadata!.uid}\0${reason}\0${message}`;
    const last = this.recent.get(key);
    if (last) {
      try {
        const body = { ...last, count: (last.count ?? 1) + 1, lastTimestamp: now };
        const written = await this.kube.call(() =>
          this.kube.core.replaceNamespacedEvent({ name: last.metadata!.name!, namespace, body }),
        );
        this.recent.set(key, written);
        return;
      } catch {
        // Gone (Events expire) or changed: write a new one.
        this.recent.delete(key);
      }
    }
    const body: k8s.CoreV1Event = {
      metadata: { name: `${pod.metadata!.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace,
        name: pod.metadata!.name,
        uid: pod.metadata!.uid,
      },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: 'vic-kubelet', host: this.nodeName },
      reportingComponent: 'vic-kubelet',
      reportingInstance: this.nodeName,
    };
    try {
      const written = await this.kube.call(() =>
        this.kube.core.createNamespacedEvent({ namespace, body }),
      );
      // Bounded: the oldest entries go first (Maps keep insertion order).
      if (this.recent.size >= 1000) this.recent.delete(this.recent.keys().next().value!);
      this.recent.set(key, written);
    } catch (err) {
      this.log.warn({ reason, err: apiErrorMessage(err) }, 'could not record event');
    }
  }
}
