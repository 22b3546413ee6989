// Kubernetes Events as the kubelet writes them (what `kubectl describe pod` and
// `kubectl describe node` show): on a pod, naming the container in involvedObject.fieldPath
// (spec.containers{name}); on the node itself. Repeats count up one Event and floods are
// dropped (event-correlator.ts, client-go's rules). Best effort: an Event that cannot be
// written is logged, never retried.
import * as k8s from '@kubernetes/client-node';
import { EventCorrelator, type CorrelatorOptions } from './event-correlator.js';
import { apiErrorMessage, isApiNotFound, type Kube } from './kube.js';
import type { Logger } from '../logging/logger.js';

export type EventReason =
  | 'ProviderCreateFailed'
  | 'ProviderUpdateFailed'
  | 'ProviderDeleteFailed'
  | 'ProviderStatusFailed'
  // The kubelet's reasons (k8s.io/kubernetes pkg/kubelet/events/event.go).
  | 'Pulling'
  | 'Pulled'
  | 'ErrImageNeverPull'
  | 'Created'
  | 'Started'
  | 'Killing'
  | 'BackOff'
  | 'Failed'
  | 'FailedMount'
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

/** The kubelet's reasons for Events on its Node. */
export type NodeEventReason =
  | 'Starting'
  | 'NodeReady'
  | 'NodeNotReady'
  | 'NodeHasSufficientMemory'
  | 'NodeHasInsufficientMemory'
  | 'NodeHasNoDiskPressure'
  | 'NodeHasDiskPressure'
  | 'NodeHasSufficientPID'
  | 'NodeHasInsufficientPID'
  | 'EvictionThresholdMet';

export type EventType = 'Normal' | 'Warning';

/** The kubelet's field path of a container: spec.containers{name} and its kin. */
export function containerFieldPath(pod: k8s.V1Pod, container: string): string {
  const spec = pod.spec;
  if (spec?.initContainers?.some((c) => c.name === container))
    return `spec.initContainers{${container}}`;
  if (spec?.ephemeralContainers?.some((c) => c.name === container))
    return `spec.ephemeralContainers{${container}}`;
  return `spec.containers{${container}}`;
}

interface Written {
  name: string;
  namespace: string;
  count: number;
}

const COMPONENT = 'vic-kubelet';

export class EventRecorder {
  private readonly correlator: EventCorrelator;
  /** Events written, by correlation key. */
  private readonly written = new Map<string, Written>();
  /** One write at a time per key, so a repeat counts up the Event just created. */
  private readonly pending = new Map<string, Promise<void>>();
  private serial = 0;

  constructor(
    private readonly kube: Kube,
    private readonly nodeName: string,
    private readonly log: Logger,
    private readonly options: CorrelatorOptions & { onError?: () => void } = {},
  ) {
    this.correlator = new EventCorrelator(options);
  }

  /** An Event on a pod; on one of its containers when `container` is given. */
  record(
    pod: k8s.V1Pod,
    type: EventType,
    reason: EventReason,
    message: string,
    container?: string,
  ): Promise<void> {
    const m = pod.metadata!;
    return this.write(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: m.namespace,
        name: m.name,
        uid: m.uid,
        ...(container ? { fieldPath: containerFieldPath(pod, container) } : {}),
      },
      type,
      reason,
      message,
    );
  }

  /** An Event on this Node (the kubelet's: the node's name is its UID, namespace default). */
  recordNode(type: EventType, reason: NodeEventReason, message: string): Promise<void> {
    return this.write(
      { kind: 'Node', name: this.nodeName, uid: this.nodeName, namespace: '' },
      type,
      reason,
      message,
    );
  }

  private write(
    ref: k8s.V1ObjectReference,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const decision = this.correlator.decide({
      object: [ref.kind, ref.namespace, ref.name, ref.uid].join('/'),
      fieldPath: ref.fieldPath ?? '',
      type,
      reason,
      message,
    });
    if (decision.action === 'drop') {
      this.log.debug({ object: ref.name, reason }, 'event dropped by the rate limit');
      return Promise.resolve();
    }
    const { key } = decision;
    const run = (this.pending.get(key) ?? Promise.resolve()).then(() =>
      this.writeOne(ref, type, reason, decision.message, key),
    );
    this.pending.set(key, run);
    void run.finally(() => {
      if (this.pending.get(key) === run) this.pending.delete(key);
    });
    return run;
  }

  private async writeOne(
    ref: k8s.V1ObjectReference,
    type: EventType,
    reason: string,
    message: string,
    key: string,
  ): Promise<void> {
    const now = new Date();
    const last = this.written.get(key);
    if (last) {
      // As client-go: a strategic-merge patch of the count and the last time.
      try {
        const body = { count: last.count + 1, lastTimestamp: now.toISOString(), message };
        await this.kube.call(() =>
          this.kube.core.patchNamespacedEvent(
            { name: last.name, namespace: last.namespace, body },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
          ),
        );
        last.count += 1;
        return;
      } catch (err) {
        // Gone (Events expire after an hour): write a new one.
        this.written.delete(key);
        if (!isApiNotFound(err)) {
          this.options.onError?.();
          this.log.warn({ reason, err: apiErrorMessage(err) }, 'could not count event');
          return;
        }
      }
    }
    // Node Events go to "default", as the kubelet's do.
    const namespace = ref.namespace || 'default';
    // client-go's naming: the object's name and the time in hex nanoseconds.
    const nanos = BigInt(now.getTime()) * 1_000_000n + BigInt(this.serial++ % 1_000_000);
    const body: k8s.CoreV1Event = {
      metadata: { name: `${ref.name}.${nanos.toString(16)}`, namespace },
      involvedObject: ref,
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: COMPONENT, host: this.nodeName },
      reportingComponent: COMPONENT,
      reportingInstance: this.nodeName,
    };
    try {
      await this.kube.call(() => this.kube.core.createNamespacedEvent({ namespace, body }));
      if (this.written.size >= 4096) this.written.delete(this.written.keys().next().value!);
      this.written.set(key, { name: body.metadata!.name!, namespace, count: 1 });
    } catch (err) {
      this.correlator.forget(key);
      this.options.onError?.();
      this.log.warn({ reason, err: apiErrorMessage(err) }, 'could not record event');
    }
  }
}
