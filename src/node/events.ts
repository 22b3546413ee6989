// Kubernetes Events on a pod (what `kubectl describe pod` shows): why a create or a delete in
// the provider failed. Best effort: an Event that cannot be written is logged, never retried.
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { apiErrorMessage, type Kube } from './kube.js';
import type { Logger } from './logger.js';

export type EventReason =
  | 'ProviderCreateFailed'
  | 'ProviderUpdateFailed'
  | 'ProviderDeleteFailed'
  | 'ProviderStatusFailed'
  | 'Started'
  | 'Killing';

export class EventRecorder {
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
      await this.kube.call(() => this.kube.core.createNamespacedEvent({ namespace, body }));
    } catch (err) {
      this.log.warn({ reason, err: apiErrorMessage(err) }, 'could not record event');
    }
  }
}
