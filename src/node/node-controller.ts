// Registers this process as a Node and keeps it alive: creates (or takes over) the Node,
// renews its Lease in kube-node-lease every 10 s while the provider answers ping, writes the
// node status every 60 s and at once when the provider reports a change, and creates the Node
// again if someone deletes it.
import * as k8s from '@kubernetes/client-node';
import { apiErrorMessage, apiStatus, isApiConflict, isApiNotFound, type Kube } from './kube.js';
import { ListWatch } from './list-watch.js';
import type { Logger } from '../logging/logger.js';
import type { Provider } from './provider.js';
import { DEFAULT_TAINT } from './taints.js';
import { EventRecorder } from './events.js';
import { conditionEvents } from './node-events.js';
import { nodeStatusPatch } from './node-status-patch.js';
import { pressureConditions } from './pressure/conditions.js';
import { thresholdsMet, type Threshold } from './pressure/thresholds.js';
import type { NodeMetrics } from './metrics/node-metrics.js';

export { DEFAULT_TAINT };

export interface NodeControllerOptions {
  nodeName: string;
  /** The kubelet API's port, published as status.daemonEndpoints.kubeletEndpoint.Port. */
  kubeletPort: number;
  /** Kubelet's --node-ip: published as the InternalIP, before what the provider reports. */
  nodeIP?: string;
  /** Taints to register with. Default [virtual-kubelet.io/provider=vic:NoSchedule]. */
  taints?: k8s.V1Taint[];
  labels?: Record<string, string>;
  leaseDurationSeconds?: number;
  leaseRenewMs?: number;
  statusUpdateMs?: number;
  /** The node's metrics: status and lease errors, Events not written. */
  metrics?: NodeMetrics;
  /** Hard eviction thresholds (--eviction-hard): pressure conditions come from them. */
  evictionHard?: Threshold[];
}

const LEASE_NAMESPACE = 'kube-node-lease';

export class NodeController {
  private node: k8s.V1Node | undefined;
  private lease: k8s.V1Lease | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private nodeWatch: ListWatch<k8s.V1Node> | undefined;
  private stopped = false;
  private startTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private statusBusy: Promise<void> = Promise.resolve();
  /** Whether the last ping succeeded (the lease is renewed only then). */
  healthy = false;
  private readonly events: EventRecorder;
  /** The eviction thresholds met as of the last status (the eviction manager acts on them). */
  met: Threshold[] = [];
  /** The conditions last written, to tell a change (NodeReady, NodeNotReady, …) by. */
  private reported: k8s.V1NodeCondition[] | undefined;

  constructor(
    private readonly kube: Kube,
    private readonly provider: Provider,
    private readonly o: NodeControllerOptions,
    private readonly log: Logger,
  ) {
    this.events = new EventRecorder(kube, o.nodeName, log, {
      onError: () => o.metrics?.error('event'),
    });
  }

  get name(): string {
    return this.o.nodeName;
  }

  /** Registers the Node, takes its Lease and starts the loops. */
  async start(): Promise<void> {
    // As kubelet does, registration waits for an apiserver that is not up yet (or a provider
    // that does not answer yet), retrying with backoff; the apiserver refusing us (a 4xx:
    // bad credentials, not allowed) ends start() at once.
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) return;
      try {
        await this.provider.ping();
        this.healthy = true;
        await this.ensureNode();
        await this.renewLease();
        void this.events.recordNode('Normal', 'Starting', 'Starting kubelet.');
        break;
      } catch (err) {
        if (this.stopped) return;
        const status = apiStatus(err);
        if (status !== undefined && status < 500) throw err;
        const delay = Math.min(7000, 500 * 2 ** Math.min(attempt, 4));
        this.log.warn(
          { err: apiErrorMessage(err), delay },
          'registering the node failed; retrying',
        );
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.startTimer = setTimeout(resolve, delay);
        });
      }
    }
    if (this.stopped) return;
    this.provider.notifyNodeStatus?.(() => void this.updateStatus());
    this.nodeWatch = new ListWatch<k8s.V1Node>({
      kube: this.kube,
      path: '/api/v1/nodes',
      fieldSelector: `metadata.name=${this.o.nodeName}`,
      list: (fieldSelector) => this.kube.core.listNode({ fieldSelector }),
      onEvent: (e) => {
        if (e.type === 'deleted' && !this.stopped) {
          this.log.warn({ node: this.o.nodeName }, 'node was deleted; registering it again');
          void this.updateStatus();
        }
      },
      log: this.log,
    });
    await this.nodeWatch.start();
    this.scheduleLease();
    this.scheduleStatus();
  }

  /** Stops renewing and writing; the Node and the provider's pods are left as they are. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.startTimer);
    this.wake?.();
    clearTimeout(this.leaseTimer);
    clearTimeout(this.statusTimer);
    this.nodeWatch?.stop();
  }

  private scheduleLease(): void {
    if (this.stopped) return;
    this.leaseTimer = setTimeout(async () => {
      try {
        await this.provider.ping();
        if (!this.healthy) this.log.info('provider answers ping again; renewing the lease');
        this.healthy = true;
        await this.renewLease();
      } catch (err) {
        this.o.metrics?.error('lease');
        if (this.healthy)
          this.log.warn({ err: apiErrorMessage(err) }, 'ping or lease renewal failed');
        // A failed ping means the provider cannot run pods: let the lease expire so the
        // node controller marks this node NotReady.
        this.healthy = false;
      }
      this.scheduleLease();
    }, this.o.leaseRenewMs ?? 10_000);
  }

  private scheduleStatus(): void {
    if (this.stopped) return;
    this.statusTimer = setTimeout(async () => {
      await this.updateStatus();
      this.scheduleStatus();
    }, this.o.statusUpdateMs ?? 60_000);
  }

  private async desiredNode(): Promise<k8s.V1Node> {
    const s = await this.provider.nodeStatus();
    const taints = this.o.taints ?? [DEFAULT_TAINT];
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: this.o.nodeName,
        labels: {
          type: 'virtual-kubelet',
          'kubernetes.io/role': 'agent',
          'kubernetes.io/os': s.nodeInfo.operatingSystem ?? 'linux',
          'kubernetes.io/arch': s.nodeInfo.architecture ?? 'amd64',
          'beta.kubernetes.io/os': s.nodeInfo.operatingSystem ?? 'linux',
          'beta.kubernetes.io/arch': s.nodeInfo.architecture ?? 'amd64',
          'kubernetes.io/hostname': this.o.nodeName,
          ...this.o.labels,
        },
      },
      spec: { taints },
      status: this.status(s, undefined),
    };
  }

  private status(
    s: Awaited<ReturnType<Provider['nodeStatus']>>,
    previous: k8s.V1NodeStatus | undefined,
  ): k8s.V1NodeStatus {
    const now = new Date();
    const thresholds = this.o.evictionHard ?? [];
    this.met = s.signals ? thresholdsMet(thresholds, s.signals) : [];
    // Pressure conditions where the provider measures the signals, as the kubelet's.
    const pressure = s.signals ? pressureConditions(this.met) : [];
    const conditions = [...pressure, ...s.conditions].map((c) => {
      const old = previous?.conditions?.find((p) => p.type === c.type);
      // The transition time moves only when the condition's status does.
      const transition =
        old && old.status === c.status ? old.lastTransitionTime : (c.lastTransitionTime ?? now);
      return { ...c, lastHeartbeatTime: now, lastTransitionTime: transition };
    });
    return {
      capacity: s.capacity,
      allocatable: s.allocatable ?? s.capacity,
      conditions,
      addresses: this.o.nodeIP
        ? [
            { type: 'InternalIP', address: this.o.nodeIP },
            ...s.addresses.filter((a) => a.type !== 'InternalIP' || a.address !== this.o.nodeIP),
          ]
        : s.addresses,
      daemonEndpoints: { kubeletEndpoint: { Port: this.o.kubeletPort } },
      ...(s.images && { images: s.images }),
      nodeInfo: {
        architecture: 'amd64',
        bootID: '',
        containerRuntimeVersion: 'vic-kubelet',
        kernelVersion: '',
        kubeProxyVersion: '',
        kubeletVersion: 'v1.34.0-vic-kubelet',
        machineID: '',
        operatingSystem: 'linux',
        osImage: '',
        systemUUID: '',
        ...s.nodeInfo,
      },
    };
  }

  /** Creates the Node, or takes over an existing one (labels, taint, status). */
  private async ensureNode(): Promise<void> {
    const desired = await this.desiredNode();
    try {
      this.node = await this.kube.call(() => this.kube.core.createNode({ body: desired }));
      this.log.info({ node: this.o.nodeName }, 'node registered');
    } catch (err) {
      if (!isApiConflict(err)) throw err;
      const existing = await this.kube.call(() =>
        this.kube.core.readNode({ name: this.o.nodeName }),
      );
      existing.metadata!.labels = { ...existing.metadata?.labels, ...desired.metadata!.labels };
      // Taints of ours replace those with the same key; others (an admin's) stay.
      const ours = new Set((desired.spec?.taints ?? []).map((t) => t.key));
      const others = (existing.spec?.taints ?? []).filter(
        (t) => t.key !== DEFAULT_TAINT.key && !ours.has(t.key),
      );
      existing.spec = { ...existing.spec, taints: [...others, ...(desired.spec?.taints ?? [])] };
      this.node = await this.kube.call(() =>
        this.kube.core.replaceNode({ name: this.o.nodeName, body: existing }),
      );
      this.log.info({ node: this.o.nodeName }, 'node exists; taking it over');
    }
    // Node creation may drop status: write it through the status subresource.
    await this.writeStatus();
  }

  /**
   * Patches the node status (strategic merge, as the kubelet does), so what others added (an
   * extended resource in capacity) is kept. The Node as last seen is the watch's copy.
   */
  private async writeStatus(): Promise<void> {
    const s = await this.provider.nodeStatus();
    const current = this.nodeWatch?.cache.get(`/${this.o.nodeName}`) ?? this.node;
    const body = nodeStatusPatch(this.status(s, current?.status), current);
    this.node = await this.kube.call(() =>
      this.kube.core.patchNodeStatus(
        { name: this.o.nodeName, body },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      ),
    );
    this.conditionsWritten(body.status.conditions ?? []);
  }

  /** The kubelet's Events for the conditions that changed with the status just written. */
  private conditionsWritten(conditions: k8s.V1NodeCondition[]): void {
    for (const e of conditionEvents(this.o.nodeName, this.reported, conditions))
      void this.events.recordNode(e.type, e.reason, e.message);
    this.reported = conditions;
  }

  /** Writes the node status now; re-registers the Node if it is gone. One at a time. */
  updateStatus(): Promise<void> {
    this.statusBusy = this.statusBusy.then(async () => {
      if (this.stopped) return;
      try {
        await this.writeStatus();
      } catch (err) {
        if (isApiNotFound(err)) {
          try {
            this.node = undefined;
            await this.ensureNode();
            await this.renewLease();
          } catch (err2) {
            this.log.warn({ err: apiErrorMessage(err2) }, 'registering the node again failed');
          }
        } else {
          this.o.metrics?.error('node_status');
          this.log.warn({ err: apiErrorMessage(err) }, 'node status update failed');
        }
      }
    });
    return this.statusBusy;
  }

  private async renewLease(): Promise<void> {
    const name = this.o.nodeName;
    const spec = (): k8s.V1LeaseSpec => ({
      holderIdentity: name,
      leaseDurationSeconds: this.o.leaseDurationSeconds ?? 40,
      renewTime: new k8s.V1MicroTime(),
    });
    const owner = this.node?.metadata?.uid
      ? [{ apiVersion: 'v1', kind: 'Node', name, uid: this.node.metadata.uid }]
      : undefined;
    if (this.lease) {
      const lease = { ...this.lease, spec: { ...this.lease.spec, ...spec() } };
      // A Node that was re-created has a new uid: the lease follows it.
      if (owner) lease.metadata = { ...lease.metadata, ownerReferences: owner };
      try {
        this.lease = await this.kube.call(() =>
          this.kube.coordination.replaceNamespacedLease({
            name,
            namespace: LEASE_NAMESPACE,
            body: lease,
          }),
        );
        return;
      } catch (err) {
        if (!isApiConflict(err) && !isApiNotFound(err)) throw err;
        this.lease = undefined;
      }
    }
    try {
      this.lease = await this.kube.call(() =>
        this.kube.coordination.createNamespacedLease({
          namespace: LEASE_NAMESPACE,
          body: {
            metadata: { name, namespace: LEASE_NAMESPACE, ownerReferences: owner },
            spec: spec(),
          },
        }),
      );
    } catch (err) {
      if (!isApiConflict(err)) throw err;
      const existing = await this.kube.call(() =>
        this.kube.coordination.readNamespacedLease({ name, namespace: LEASE_NAMESPACE }),
      );
      existing.spec = { ...existing.spec, ...spec() };
      if (owner) existing.metadata = { ...existing.metadata, ownerReferences: owner };
      this.lease = await this.kube.call(() =>
        this.kube.coordination.replaceNamespacedLease({
          name,
          namespace: LEASE_NAMESPACE,
          body: existing,
        }),
      );
    }
  }
}
