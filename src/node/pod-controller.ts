// Runs the pods the scheduler binds to this node: watches them (spec.nodeName=<node>),
// reconciles each with the provider on a work queue (one operation per pod at a time, failed
// ones retried with backoff), writes the provider's status back when it changed, and carries
// out deletions: graceful (the provider stops the containers, then the pod is removed from the
// API with grace 0 and a UID precondition) and forced (the pod is already gone from the API;
// the provider is told to drop it).
import type * as k8s from '@kubernetes/client-node';
import { AdmissionError, errorKind, errorMessage, isNotFound } from './errors.js';
import { EventRecorder } from './events.js';
import { apiErrorMessage, isApiConflict, isApiNotFound, type Kube } from './kube.js';
import { ListWatch } from './list-watch.js';
import type { Logger } from '../logging/logger.js';
import { specChanged, statusDiffers } from './pod-compare.js';
import { withPodConditions } from './pod-conditions.js';
import type { Provider } from './provider.js';
import { WorkQueue, type HandlerResult } from './work-queue.js';
import type { NodeMetrics } from './metrics/node-metrics.js';

export interface PodControllerOptions {
  nodeName: string;
  /** Concurrent pod operations. */
  workers?: number;
  /** How often every pod's status is asked of a provider that does not push it. */
  statusPollMs?: number;
  /** How often a terminating pod is checked for its containers having stopped. */
  terminationCheckMs?: number;
  /** The node's metrics: pod start durations, sync errors, Events not written. */
  metrics?: NodeMetrics;
}

const keyOf = (pod: k8s.V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

export class PodController {
  private readonly watch: ListWatch<k8s.V1Pod>;
  private readonly queue: WorkQueue;
  private readonly events: EventRecorder;
  /**
   * Pods (by UID) whose deletion the provider has been asked to carry out, with the time their
   * grace period ends: counted from that moment, as kubelet counts it (deletionTimestamp has
   * whole seconds only, and was set before we heard of the deletion).
   */
  private readonly graceEnds = new Map<string, number>();
  /**
   * Pods the provider has been told to delete, key → UID, until it no longer reports them:
   * a provider still reporting a pod it is stopping is not asked again.
   */
  private readonly askedToDelete = new Map<string, string>();
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly kube: Kube,
    private readonly provider: Provider,
    private readonly o: PodControllerOptions,
    private readonly log: Logger,
  ) {
    this.events = new EventRecorder(kube, o.nodeName, log, {
      onError: () => o.metrics?.error('event'),
    });
    this.queue = new WorkQueue(
      (key) =>
        this.sync(key).catch((err: unknown) => {
          o.metrics?.error('pod_sync');
          throw err;
        }),
      {
        workers: o.workers ?? 10,
        onDrop: (key, err) =>
          this.log.error({ pod: key, err: errorMessage(err) }, 'giving up on pod after retries'),
      },
    );
    this.watch = new ListWatch<k8s.V1Pod>({
      kube,
      path: '/api/v1/pods',
      fieldSelector: `spec.nodeName=${o.nodeName}`,
      list: (fieldSelector) => kube.core.listPodForAllNamespaces({ fieldSelector }),
      onEvent: (e) => {
        const uid = e.object.metadata?.uid ?? '';
        if (e.type === 'deleted') o.metrics?.podGone(uid);
        else o.metrics?.podSeen(uid);
        this.queue.add(keyOf(e.object));
      },
      log,
    });
  }

  /**
   * Lists the node's pods, then brings the provider in line: pods it runs that the API no
   * longer has are deleted from it, pods it lacks are created, pods it runs are left running.
   */
  async start(): Promise<void> {
    await this.watch.start();
    for (const pod of await this.provider.getPods()) {
      const api = this.watch.cache.get(keyOf(pod));
      if (!api || api.metadata?.uid !== pod.metadata?.uid) this.queue.add(keyOf(pod));
    }
    this.provider.notifyEvents?.(
      (pod, e) => void this.events.record(pod, e.type, e.reason, e.message, e.container),
    );
    if (this.provider.notifyPods) {
      this.provider.notifyPods((pod) => this.queue.add(keyOf(pod)));
    } else this.schedulePoll();
  }

  /** Stops watching and working; the provider's pods keep running. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    this.watch.stop();
    this.queue.stop();
  }

  /** The pods the API has bound to this node, as last seen. */
  pods(): k8s.V1Pod[] {
    return [...this.watch.cache.values()];
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => {
      for (const key of this.watch.cache.keys()) this.queue.add(key);
      this.schedulePoll();
    }, this.o.statusPollMs ?? 5000);
  }

  private async sync(key: string): Promise<HandlerResult> {
    const [namespace, name] = key.split('/') as [string, string];
    const pod = this.watch.cache.get(key);
    if (!pod) return this.dropFromProvider(namespace, name);
    if (pod.metadata?.deletionTimestamp) return this.terminate(pod);
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;

    const running = await this.provider.getPod(namespace, name);
    if (running && running.metadata?.uid && running.metadata.uid !== pod.metadata?.uid) {
      // A new pod of the same name: the old one goes first, and the new one is created once
      // the provider no longer has it.
      if (this.askedToDelete.get(key) !== running.metadata.uid)
        await this.deleteInProvider(running);
      return { requeueAfterMs: this.o.terminationCheckMs ?? 1000 };
    }
    if (!running) {
      try {
        await this.provider.createPod(pod);
        this.log.info({ pod: key, uid: pod.metadata?.uid }, 'pod created in provider');
      } catch (err) {
        if (err instanceof AdmissionError) {
          // Rejected as the kubelet rejects a pod at admission.
          const message = `Pod was rejected: ${err.message}`;
          await this.events.record(pod, 'Warning', err.reason, message);
          await this.writeStatus(pod, { phase: 'Failed', reason: err.reason, message });
          return;
        }
        await this.events.record(pod, 'Warning', 'ProviderCreateFailed', errorMessage(err));
        if (errorKind(err) === 'InvalidInput') {
          // It will never run as asked: say so in its status rather than retry forever.
          await this.writeStatus(pod, {
            phase: 'Failed',
            reason: 'ProviderCreateFailed',
            message: errorMessage(err),
          });
          return;
        }
        throw err;
      }
    } else if (specChanged(running, pod)) {
      try {
        await this.provider.updatePod(pod);
        this.log.info({ pod: key }, 'pod updated in provider');
      } catch (err) {
        await this.events.record(pod, 'Warning', 'ProviderUpdateFailed', errorMessage(err));
        throw err;
      }
    }
    await this.syncStatus(pod);
  }

  /**
   * The pod is gone from the API (deleted for good, or forced): the provider drops it too.
   */
  private async dropFromProvider(namespace: string, name: string): Promise<HandlerResult> {
    const key = `${namespace}/${name}`;
    const running = await this.provider.getPod(namespace, name);
    if (!running) {
      this.askedToDelete.delete(key);
      return;
    }
    const uid = running.metadata?.uid ?? '';
    if (this.askedToDelete.get(key) === uid) return;
    await this.deleteInProvider(running);
    this.log.info({ pod: key, uid }, 'pod deleted from provider');
  }

  private async deleteInProvider(pod: k8s.V1Pod): Promise<void> {
    try {
      await this.provider.deletePod(pod);
      this.askedToDelete.set(keyOf(pod), pod.metadata?.uid ?? '');
    } catch (err) {
      if (isNotFound(err)) return;
      await this.events.record(pod, 'Warning', 'ProviderDeleteFailed', errorMessage(err));
      throw err;
    }
  }

  /**
   * Graceful deletion: ask the provider to stop the pod (once), then remove the pod from the
   * API when its containers have stopped or its grace period has run out.
   */
  private async terminate(pod: k8s.V1Pod): Promise<HandlerResult> {
    const { namespace, name, uid } = pod.metadata as Required<k8s.V1ObjectMeta>;
    let deadline = this.graceEnds.get(uid);
    if (deadline === undefined) {
      const running = await this.provider.getPod(namespace, name);
      const same = running && (!running.metadata?.uid || running.metadata.uid === uid);
      if (same && this.askedToDelete.get(keyOf(pod)) !== uid) {
        await this.deleteInProvider(pod);
        this.log.info({ pod: keyOf(pod), uid }, 'pod stopping in provider');
      }
      const grace = pod.metadata?.deletionGracePeriodSeconds;
      deadline =
        grace === undefined
          ? new Date(pod.metadata!.deletionTimestamp!).getTime()
          : Date.now() + grace * 1000;
      this.graceEnds.set(uid, deadline);
    }
    const status = await this.provider.getPodStatus(namespace, name);
    const stopped = !status || allStopped(status);
    if (!stopped && Date.now() < deadline) {
      await this.syncStatus(pod, status);
      return { requeueAfterMs: Math.min(this.o.terminationCheckMs ?? 1000, deadline - Date.now()) };
    }
    try {
      await this.kube.call(() =>
        this.kube.core.deleteNamespacedPod({
          name,
          namespace,
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid } },
        }),
      );
      this.log.info({ pod: keyOf(pod), uid, stopped }, 'pod removed from the API');
    } catch (err) {
      // Gone already, or a new pod of that name (the UID precondition failed): nothing to do.
      if (!isApiNotFound(err) && !isApiConflict(err)) throw err;
    }
    this.graceEnds.delete(uid);
  }

  private async syncStatus(pod: k8s.V1Pod, known?: k8s.V1PodStatus): Promise<void> {
    const reported =
      known ?? (await this.provider.getPodStatus(pod.metadata!.namespace!, pod.metadata!.name!));
    const status = reported && withPodConditions(reported, pod);
    if (status && statusDiffers(status, pod.status)) await this.writeStatus(pod, status);
  }

  /** UpdateStatus with the pod's resourceVersion; a conflict means a newer pod is on its way. */
  private async writeStatus(pod: k8s.V1Pod, status: k8s.V1PodStatus): Promise<void> {
    const body = { ...pod, status: { ...pod.status, ...status } };
    try {
      const written = await this.kube.call(() =>
        this.kube.core.replaceNamespacedPodStatus({
          name: pod.metadata!.name!,
          namespace: pod.metadata!.namespace!,
          body,
        }),
      );
      if (status.phase === 'Running') this.o.metrics?.podRunning(pod.metadata?.uid ?? '');
      // Keep the newer copy so the next poll does not write the same status again.
      const key = keyOf(pod);
      const cached = this.watch.cache.get(key);
      if (cached?.metadata?.uid === written.metadata?.uid) this.watch.cache.set(key, written);
    } catch (err) {
      if (isApiNotFound(err)) return;
      throw new Error(`status update of ${keyOf(pod)}: ${apiErrorMessage(err)}`, { cause: err });
    }
  }
}

function allStopped(status: k8s.V1PodStatus): boolean {
  if (status.phase === 'Succeeded' || status.phase === 'Failed') return true;
  const containers = status.containerStatuses ?? [];
  return containers.length > 0 && containers.every((c) => c.state?.terminated !== undefined);
}
