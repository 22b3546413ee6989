// The VIC provider: runs the virtual kubelet's pods on a VCH through its portlayer
// (IsolationProxy) and persona (ImageStore), over HTTP only, so the same code drives an embedded
// VCH or a remote one. createPod takes a pod on at once and creates it in the background (pulls
// with back-off → one commit of the whole pod), then a PodMonitor starts its containers one by
// one and keeps them to the restartPolicy with back-off; each change of the pod's status is
// pushed through notifyPods. The PodCache is rebuilt from the VCH
// when the provider starts, so pods keep running across a restart of vic-kubelet.
import { CreationSlots } from './operations/creation-slots.js';
import type { NodeDns } from './operations/pod-dns.js';
import type { Duplex, Readable } from 'node:stream';
import type * as k8s from '@kubernetes/client-node';
import { errorMessage, NodeError } from '../../node/errors.js';
import type { Logger } from '../../logging/logger.js';
import type {
  ContainerLogOptions,
  ExecIO,
  ExecResult,
  NodeConditionsAndAddresses,
  PodEvent,
  Provider,
} from '../../node/provider.js';
import { PodCache } from './cache/pod-cache.js';
import { ANNOTATION_RUNTIME, newVicPod, podKey, type VicPod } from './cache/vic-pod.js';
import {
  capacityFromVchInfo,
  nodeImages,
  nodeStatusFromVchInfo,
  notReadyStatus,
} from './node-status.js';
import type { NodeFacts } from './operations/container-env.js';
import type { EnvSources } from './operations/env-sources.js';
import { containerEvents } from './operations/container-events.js';
import {
  ContainerConfigError,
  ContainerCreateError,
  ImagePullError,
  VolumeMountError,
} from './operations/errors.js';
import { PodCreator, type SecretSource } from './operations/pod-creator.js';
import { ContainerLifecycle } from './operations/container-lifecycle.js';
import { PodDeleter } from './operations/pod-deleter.js';
import { changedImages, ImageUpdater } from './operations/image-update.js';
import { EphemeralAdder, newEphemerals } from './operations/ephemeral-containers.js';
import { attachInPod, execInPod } from './operations/pod-exec.js';
import { PodMonitor } from './operations/pod-monitor.js';
import { PodStarter } from './operations/pod-starter.js';
import { podIPsOf, podStatus } from './operations/pod-status.js';
import type { PodProber } from './operations/prober.js';
import { PodStopper } from './operations/pod-stopper.js';
import { podSysctls } from './operations/sysctl-policy.js';
import { validatePod } from './operations/validate.js';
import { hostAccessNeed, type HostAccessPolicy, notInPodVm } from './operations/host-access.js';
import { noPodNetwork, podNetworkNeed } from './operations/action-support.js';
import { admitHostPorts } from './operations/host-ports.js';
import type { VolumeContext } from './operations/volumes/pod-volumes.js';
import { needsUpdater, VolumeUpdater } from './operations/volumes/volume-updater.js';
import { nextAttempt } from './operations/restart-policy.js';
import { sleep } from './operations/retry.js';
import type { ImageConfig, ImageStore } from './proxy/image-store.js';
import type { IsolationProxy } from './proxy/isolation-proxy.js';
import type { StatsSource } from './proxy/stats-source.js';
import { type ApiPodReader, restoreEvicted } from './evicted-state.js';
import { nodeUsage } from './node-usage.js';
import type { NodeUsage } from '../../node/stats/usage.js';

/** How long a failed pull shows as ErrImagePull before ImagePullBackOff (ms). */
const ERR_IMAGE_PULL_SHOWN_MS = 2000;
/**
 * How often a container waiting on its configuration (CreateContainerConfigError) is tried
 * again: the kubelet's pod worker retries a failed sync every 10 s, without growing.
 */
const CONFIG_RETRY_MS = 10_000;

export interface VicProviderOptions {
  isolation: IsolationProxy;
  imageStore: ImageStore;
  nodeIP: string;
  log: Logger;
  /** Reads imagePullSecrets; without it pulls go without credentials. */
  secrets?: SecretSource;
  /** ConfigMaps, Secrets and Services for containers' env; without them none can be used. */
  envSources?: EnvSources;
  /** How often a container waiting on a missing ConfigMap or Secret is tried again (ms). */
  configRetryMs?: number;
  /** Default grace period of a deletion that does not say (s). */
  defaultGraceSec?: number;
  /** The node's directory of Localhost seccomp profiles; default /var/lib/kubelet/seccomp. */
  seccompProfileRoot?: string;
  /** Sysctls allowed beyond the kubelet's safe set (--allowed-unsafe-sysctls). */
  allowedUnsafeSysctls?: string[];
  /** --allow-privileged, --allow-host-namespaces (host-access.ts). */
  hostAccess?: HostAccessPolicy;
  /** --cluster-dns, --cluster-domain, --resolv-conf (operations/pod-dns.ts). */
  dns?: NodeDns;
  /** The VCH's volumes and service-account tokens; without a store, a pod with volumes waits. */
  volumes?: VolumeContext;
  /** How often running pods' volumes are brought up to date (ms). */
  volumeSyncMs?: number;
  /** The VCH's usage figures; without them the node has no stats to serve. */
  stats?: StatsSource;
  /** The API's pods, to keep an evicted pod evicted after a restart (evicted-state.ts). */
  apiPods?: ApiPodReader;
}

/** Per pod: what runs in the background for it. */
interface Work {
  abort: AbortController;
  /** Settles when creation has ended (created, given up, or aborted). */
  creating: Promise<void>;
  monitor?: PodMonitor;
  /** Its containers' probes, when it has any. */
  prober?: PodProber;
  /** Keeps the pod's computed volumes up to date and its emptyDirs to their sizeLimit. */
  volumes?: VolumeUpdater;
  lastPushed?: string;
  /** Image changes of the pod's containers, one after the other. */
  updating?: Promise<void>;
}

/**
 * Pod creations under way at once: enough to keep the VCH and runc busy on a small host, few
 * enough that a burst never floods the VCH's socket (creation-slots.ts).
 */
const CONCURRENT_CREATIONS = 16;
/** Pod deletions under way at once (each may wait out its pod's grace period). */
const CONCURRENT_DELETIONS = 64;

export class VicProvider implements Provider {
  readonly cache = new PodCache();
  private readonly creator: PodCreator;
  private readonly starter: PodStarter;
  private readonly stopper: PodStopper;
  private readonly deleter: PodDeleter;
  private readonly lifecycle: ContainerLifecycle;
  private readonly imageUpdater: ImageUpdater;
  private readonly ephemerals: EphemeralAdder;
  private readonly work = new Map<VicPod, Work>();
  private readonly creations = new CreationSlots(CONCURRENT_CREATIONS);
  private readonly deletions = new CreationSlots(CONCURRENT_DELETIONS);
  private podChanged: ((pod: k8s.V1Pod) => void) | undefined;
  private podEvent: ((pod: k8s.V1Pod, event: PodEvent) => void) | undefined;
  private lastCapacity: Record<string, string> | undefined;
  private closed = false;
  /** Settles once the cache has been rebuilt from the VCH. */
  readonly ready: Promise<void>;

  constructor(private readonly o: VicProviderOptions) {
    this.creator = new PodCreator(o.imageStore, o.isolation, o.secrets, o.log, {
      sources: o.envSources,
      node: () => this.nodeFacts(),
      podIPs: (pod) =>
        podIPsOf(this.cache.get(pod.metadata!.namespace!, pod.metadata!.name!), o.nodeIP),
      seccompProfileRoot: o.seccompProfileRoot,
      allowedUnsafeSysctls: o.allowedUnsafeSysctls,
      ...(o.dns && { dns: o.dns }),
      volumes: o.volumes,
    });
    this.starter = new PodStarter(o.isolation);
    this.stopper = new PodStopper(o.isolation);
    this.lifecycle = new ContainerLifecycle({
      isolation: o.isolation,
      stopper: this.stopper,
      event: (vp, e) => this.event(vp, e),
      changed: (vp) => this.changed(vp),
      nodeIP: o.nodeIP,
      log: o.log,
    });
    this.deleter = new PodDeleter(o.isolation, this.stopper, this.cache, (vp) =>
      this.lifecycle.preStop(vp),
    );
    this.imageUpdater = new ImageUpdater(this.creator, o.isolation, o.log);
    this.ephemerals = new EphemeralAdder(this.creator, o.isolation, o.log);
    this.ready = this.rehydrate();
  }

  /** Rebuilds the cache from the VCH, asking again until it answers. */
  private async rehydrate(): Promise<void> {
    for (let delay = 500; !this.closed; delay = Math.min(delay * 2, 10_000)) {
      try {
        const found = await this.cache.rehydrate(this.o.isolation);
        const apiPods = this.o.apiPods;
        if (apiPods) await Promise.all(found.map((vp) => restoreEvicted(vp, apiPods, this.o.log)));
        for (const vp of found) this.watch(vp);
        this.o.log.info({ pods: found.length }, 'pod cache rebuilt from the VCH');
        return;
      } catch (err) {
        this.o.log.warn(
          { err: errorMessage(err) },
          'VCH not answering; rebuilding the pod cache later',
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Stops watching pods; they keep running on the VCH. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.work.values()) {
      w.abort.abort();
      w.prober?.stop();
    }
    await Promise.all([...this.work.values()].map((w) => w.monitor?.stop()));
    await Promise.all([...this.work.values()].map((w) => w.volumes?.stop()));
  }

  // ---- pod lifecycle ----

  async createPod(pod: k8s.V1Pod): Promise<void> {
    await this.ready;
    validatePod(pod, this.o.hostAccess);
    // Probes and hooks that connect to the pod's IP need a VCH that gives pods one.
    const needsIP = podNetworkNeed(pod);
    const info = needsIP || hostAccessNeed(pod) ? await this.o.isolation.vchInfo() : undefined;
    if (needsIP && !info?.podNetwork) throw new NodeError('InvalidInput', noPodNetwork(needsIP));
    // The node's kernel is runc's to share; a pod VM has its own (the VCH refuses it too).
    const hostNeed = hostAccessNeed(pod);
    const runtime = pod.metadata?.annotations?.[ANNOTATION_RUNTIME] ?? info?.runtime;
    if (hostNeed && runtime === 'vm') throw new NodeError('InvalidInput', notInPodVm(hostNeed));
    // Admission, as the kubelet's: a sysctl the node does not allow rejects the pod.
    podSysctls(pod, this.o.allowedUnsafeSysctls ?? []);
    const { namespace, name, uid } = pod.metadata!;
    const existing = this.cache.get(namespace!, name!);
    if (existing) {
      if (existing.pod.metadata?.uid === uid) return;
      throw new NodeError(
        'Conflict',
        `pod ${namespace}/${name} of another uid is still on the VCH`,
      );
    }
    // The kubelet's admission: a hostPort another live pod of this node holds refuses this one.
    admitHostPorts(
      pod,
      this.cache
        .getAll()
        .filter((p) => !p.failure && !p.evicted)
        .map((p) => p.pod),
    );
    const vp = newVicPod(structuredClone(pod));
    this.cache.add(vp);
    const abort = new AbortController();
    const w: Work = { abort, creating: Promise.resolve() };
    this.work.set(vp, w);
    w.creating = this.createInBackground(vp, abort.signal);
    this.changed(vp);
  }

  private async createInBackground(vp: VicPod, signal: AbortSignal): Promise<void> {
    // Kept while only the configuration is waited for: its images need not be pulled again.
    let images: Map<string, ImageConfig> | undefined;
    while (!signal.aborted) {
      try {
        // One of a few creations at a time (creation-slots.ts): a burst of pods is queued.
        const created = await this.creations.run(async () => {
          if (!images) {
            images = await this.creator.pullImages(vp.pod, signal, undefined, (e) =>
              this.event(vp, e),
            );
            // Back to the default waiting reason (ContainerCreating; PodInitializing with init
            // containers, as kubectl's Init:0/N needs), from a failed pull's.
            for (const c of vp.containers.values()) c.waiting = undefined;
            this.changed(vp);
          }
          if (signal.aborted) return undefined;
          return this.creator.create(vp.pod, images, (e) => this.event(vp, e));
        }, signal);
        if (!created) return;
        vp.id = created.id;
        // A deletion that came during the commit keeps the pod 'deleting'.
        if (vp.stage === 'creating') vp.stage = 'created';
        for (const [name, taskId] of created.tasks) {
          const c = vp.containers.get(name)!;
          c.taskId = taskId;
          c.waiting = undefined;
          c.backoffMs = 0;
        }
        if (signal.aborted) return;
        // The monitor starts the containers, one by one, and keeps them to the restartPolicy.
        this.watch(vp);
        return;
      } catch (err) {
        if (signal.aborted) return;
        if (!(err instanceof ContainerConfigError)) images = undefined;
        const wait = this.creationFailed(vp, err);
        this.changed(vp);
        // As the kubelet: the failure shows as ErrImagePull a moment (until its next sync),
        // then as ImagePullBackOff for the rest of the back-off.
        const shown = Math.min(wait, ERR_IMAGE_PULL_SHOWN_MS);
        await sleep(shown, signal);
        if (signal.aborted) return;
        for (const c of vp.containers.values())
          if (c.waiting?.reason === 'ErrImagePull') {
            c.waiting = {
              reason: 'ImagePullBackOff',
              message: `Back-off pulling image "${c.image}"`,
            };
            this.event(vp, containerEvents.pullBackOff(c.name, c.image));
            this.event(vp, containerEvents.error(c.name, 'ImagePullBackOff'));
          }
        this.changed(vp);
        await sleep(wait - shown, signal);
      }
    }
  }

  /** Records why creation failed on the container it concerns; returns the back-off (ms). */
  private creationFailed(vp: VicPod, err: unknown): number {
    const key = podKey(vp.pod.metadata!.namespace!, vp.pod.metadata!.name!);
    const now = Date.now();
    if (err instanceof ImagePullError) {
      const c = vp.containers.get(err.container)!;
      c.waiting = {
        reason: err.neverPull ? 'ErrImageNeverPull' : 'ErrImagePull',
        message: err.message,
      };
      this.o.log.warn({ pod: key, container: c.name, err: err.message }, 'image pull failed');
      if (err.neverPull) this.event(vp, containerEvents.neverPull(c.name, err.image));
      else this.event(vp, containerEvents.pullFailed(c.name, err.image, err.message));
      this.event(vp, containerEvents.error(c.name, c.waiting.reason));
      // Unlike a restart, even the first retry of a pull waits (10 s, 20 s, … 5 min).
      nextAttempt(c, now);
      return c.backoffMs;
    }
    if (err instanceof ContainerConfigError) {
      // As the kubelet: the container waits with the reason, an Event says why, and the next
      // sync tries again. The pod is committed whole, so its other containers wait too (as
      // ContainerCreating), where the kubelet would have started those before it.
      for (const other of vp.containers.values())
        if (other.waiting?.reason === 'CreateContainerConfigError') other.waiting = undefined;
      const c = vp.containers.get(err.container)!;
      c.waiting = { reason: 'CreateContainerConfigError', message: err.message };
      this.o.log.warn({ pod: key, container: c.name, err: err.message }, 'container config');
      // A volume that cannot be made is the pod's FailedMount; anything else the container's.
      if (err instanceof VolumeMountError)
        this.event(vp, { type: 'Warning', reason: 'FailedMount', message: err.message });
      else this.event(vp, containerEvents.error(c.name, err.message));
      return this.o.configRetryMs ?? CONFIG_RETRY_MS;
    }
    const name = err instanceof ContainerCreateError ? err.container : undefined;
    const reason =
      err instanceof ContainerCreateError ? 'CreateContainerError' : 'ContainerCreating';
    this.o.log.warn({ pod: key, container: name, err: errorMessage(err) }, 'pod creation failed');
    if (name) this.event(vp, containerEvents.error(name, errorMessage(err)));
    let wait = 0;
    for (const c of vp.containers.values()) {
      if (name && c.name !== name) continue;
      c.waiting = { reason, message: errorMessage(err) };
      wait = Math.max(wait, nextAttempt(c, now) - now);
    }
    return wait || 1000;
  }

  /** Starts the monitor of a created pod. */
  private watch(vp: VicPod): void {
    let w = this.work.get(vp);
    if (!w) {
      w = { abort: new AbortController(), creating: Promise.resolve() };
      this.work.set(vp, w);
    }
    // Evicted (before the node restarted, too): neither started again nor its volumes kept.
    if (this.closed || w.abort.signal.aborted || vp.evicted) return;
    w.monitor = new PodMonitor(
      vp,
      this.o.isolation,
      this.starter,
      (p) => this.changed(p),
      this.o.log,
      (p, task, signal) => this.lifecycle.postStart(p, task, signal),
      (e) => this.event(vp, e),
    );
    w.monitor.start();
    this.addEphemerals(vp);
    w.prober ??= this.lifecycle.startProber(vp);
    const store = this.o.volumes?.store;
    if (store && needsUpdater(vp.pod) && !w.volumes) {
      w.volumes = new VolumeUpdater({
        pod: () => vp.pod,
        store,
        sources: this.o.envSources,
        tokens: this.o.volumes?.tokens,
        node: () => this.nodeFacts(),
        log: this.o.log,
        intervalMs: this.o.volumeSyncMs,
        onEvict: (message) => void this.evict(vp, message),
      });
      w.volumes.start();
    }
  }

  /**
   * Evicts the pod as the kubelet's eviction manager does: its containers are stopped (within
   * the pod's grace period) and not restarted, and it is Failed with reason Evicted.
   */
  private async evict(vp: VicPod, message: string): Promise<void> {
    if (vp.stage !== 'created' || vp.evicted) return;
    const key = podKey(vp.pod.metadata!.namespace!, vp.pod.metadata!.name!);
    vp.evicted = { message };
    this.o.log.warn({ pod: key, reason: message }, 'pod evicted');
    this.event(vp, { type: 'Warning', reason: 'Evicted', message });
    await this.work.get(vp)?.monitor?.stop();
    this.killing(vp);
    const grace = vp.pod.spec?.terminationGracePeriodSeconds ?? this.o.defaultGraceSec ?? 30;
    try {
      vp.info = await this.stopper.stop(vp.id!, grace);
    } catch (err) {
      this.o.log.warn({ pod: key, err: errorMessage(err) }, 'evicted pod not stopped');
    }
    this.changed(vp);
  }

  /**
   * Takes the API's pod as it is now. A container whose image changed is recreated from the new
   * image (image-update.ts), in the background, tried again with back-off until it is done or
   * the pod goes; one not created yet simply gets it.
   */
  async updatePod(pod: k8s.V1Pod): Promise<void> {
    await this.ready;
    const vp = this.entry(pod.metadata!.namespace!, pod.metadata!.name!);
    const changed = changedImages(vp, pod);
    vp.pod = structuredClone(pod);
    const w = this.work.get(vp);
    for (const c of changed) {
      const rec = vp.containers.get(c.name)!;
      if (!rec.taskId || !w || vp.stage !== 'created') rec.image = c.image ?? '';
      else
        w.updating = (w.updating ?? Promise.resolve()).then(() =>
          this.imageUpdater.replaceUntilDone(vp, c, w.abort.signal, {
            event: (e) => this.event(vp, e),
            changed: () => {
              w.monitor?.poke();
              this.changed(vp);
            },
          }),
        );
    }
    // Ephemeral containers added (kubectl debug): joined now if the pod is on the VCH, else
    // once its creation is done (watch).
    if (w?.monitor) this.addEphemerals(vp);
    // A new activeDeadlineSeconds counts at once.
    this.work.get(vp)?.monitor?.poke();
    this.changed(vp);
  }

  /**
   * Joins the pod's ephemeral containers it has no record of to the pod on the VCH, in the
   * background (operations/ephemeral-containers.ts: each is recorded at once, so it is taken
   * on once). The monitor starts them; on a pod that has finished nothing starts any more.
   */
  private addEphemerals(vp: VicPod): void {
    const w = this.work.get(vp);
    if (!w || vp.stage !== 'created' || !vp.id) return;
    for (const ec of newEphemerals(vp))
      void this.ephemerals.add(vp, ec, w.abort.signal, {
        event: (e) => this.event(vp, e),
        changed: () => this.changed(vp),
        poke: () => w.monitor?.poke(),
      });
  }

  async deletePod(pod: k8s.V1Pod): Promise<void> {
    await this.ready;
    const vp = this.entry(pod.metadata!.namespace!, pod.metadata!.name!);
    if (vp.stage === 'deleting') return;
    const graceSec =
      pod.metadata?.deletionGracePeriodSeconds ??
      pod.spec?.terminationGracePeriodSeconds ??
      vp.pod.spec?.terminationGracePeriodSeconds ??
      this.o.defaultGraceSec ??
      30;
    const created = vp.stage === 'created';
    vp.stage = 'deleting';
    const w = this.work.get(vp);
    w?.abort.abort();
    w?.prober?.stop();
    if (!created && !vp.id) {
      // Not (yet) on the VCH: a creation in flight may still commit, so wait for it to end.
      void w?.creating.then(() => this.deleteInBackground(vp, graceSec));
      return;
    }
    void this.deleteInBackground(vp, graceSec);
  }

  private async deleteInBackground(vp: VicPod, graceSec: number): Promise<void> {
    const key = podKey(vp.pod.metadata!.namespace!, vp.pod.metadata!.name!);
    await this.work.get(vp)?.monitor?.stop();
    await this.work.get(vp)?.volumes?.stop();
    this.o.volumes?.tokens?.forget(vp.pod.metadata?.uid ?? '');
    this.killing(vp);
    for (let delay = 1000; ; delay = Math.min(delay * 2, 30_000)) {
      try {
        // A few at a time, as creations: a thousand at once overflowed the VCH's socket
        // (EAGAIN) and timed out. More than creations, as each may wait out its grace period.
        await this.deletions.run(() => this.deleter.delete(vp, graceSec, () => this.changed(vp)));
        this.work.delete(vp);
        this.o.log.info({ pod: key, id: vp.id }, 'pod deleted from the VCH');
        return;
      } catch (err) {
        // Never forget a pod that may still run: try again until the VCH lets it go.
        this.o.log.warn({ pod: key, err: errorMessage(err) }, 'pod deletion failed; trying again');
        await new Promise((r) => setTimeout(r, delay));
        if (this.closed) return;
      }
    }
  }

  async getPod(namespace: string, name: string): Promise<k8s.V1Pod | undefined> {
    await this.ready;
    return this.cache.get(namespace, name)?.pod;
  }

  async getPodStatus(namespace: string, name: string): Promise<k8s.V1PodStatus | undefined> {
    await this.ready;
    const vp = this.cache.get(namespace, name);
    return vp && podStatus(vp, this.o.nodeIP);
  }

  async getPods(): Promise<k8s.V1Pod[]> {
    await this.ready;
    return this.cache.getAll().map((vp) => vp.pod);
  }

  async evictPod(pod: k8s.V1Pod, message: string): Promise<void> {
    await this.ready;
    const vp = this.entry(pod.metadata!.namespace!, pod.metadata!.name!);
    if (vp.stage !== 'created')
      throw new NodeError(
        'Unavailable',
        `pod ${podKey(vp.pod.metadata!.namespace!, vp.pod.metadata!.name!)} is not running yet`,
      );
    await this.evict(vp, message);
  }

  /** The kubelet's Killing for each container of the pod still running, as it stops them. */
  private killing(vp: VicPod): void {
    for (const t of vp.info?.tasks ?? [])
      if (t.processConfig.status === 'running') this.event(vp, containerEvents.killing(t.name));
  }

  notifyPods(callback: (pod: k8s.V1Pod) => void): void {
    this.podChanged = callback;
  }

  notifyEvents(callback: (pod: k8s.V1Pod, event: PodEvent) => void): void {
    this.podEvent = callback;
  }

  private event(vp: VicPod, e: PodEvent): void {
    this.podEvent?.(vp.pod, e);
  }

  /** What the downward API gives of the node: its allocatable (as last reported) and IP. */
  private async nodeFacts(): Promise<NodeFacts> {
    const allocatable = this.lastCapacity ?? capacityFromVchInfo(await this.o.isolation.vchInfo());
    return { allocatable, hostIPs: [this.o.nodeIP] };
  }

  /** Pushes the pod's status when it differs from the last one pushed. */
  private changed(vp: VicPod): void {
    const status = podStatus(vp, this.o.nodeIP);
    const w = this.work.get(vp);
    const text = JSON.stringify(status);
    if (w) {
      if (w.lastPushed === text) return;
      w.lastPushed = text;
    }
    this.podChanged?.({ ...vp.pod, status });
  }

  // ---- node ----

  async ping(): Promise<void> {
    await this.o.isolation.ping();
    // The VCH answers, so the cache is rebuilt in a moment.
    await this.ready;
  }

  /** Usage of the VCH host (the node's) and of each pod, read from the portlayer. */
  async getStats(): Promise<NodeUsage> {
    if (!this.o.stats)
      throw new NodeError('NotImplemented', 'this provider has no source of usage figures');
    await this.ready;
    return nodeUsage(this.o.stats, this.cache.getAll(), this.o.volumes?.store);
  }

  async nodeStatus(): Promise<NodeConditionsAndAddresses> {
    try {
      const s = nodeStatusFromVchInfo(await this.o.isolation.vchInfo(), this.o.nodeIP);
      this.lastCapacity = s.capacity;
      const images = await this.o.imageStore.list?.().catch(() => undefined);
      return images ? { ...s, images: nodeImages(images) } : s;
    } catch (err) {
      return notReadyStatus(errorMessage(err), this.o.nodeIP, this.lastCapacity);
    }
  }

  // ---- streaming ----

  async getContainerLogs(
    namespace: string,
    pod: string,
    container: string,
    o: ContainerLogOptions,
  ): Promise<Readable> {
    await this.ready;
    const vp = this.entry(namespace, pod);
    const c = vp.containers.get(container);
    if (!c)
      throw new NodeError('NotFound', `container ${container} is not in pod ${namespace}/${pod}`);
    // The kubelet's answer when there is no earlier instance (400, its words).
    const noPrevious = () =>
      new NodeError(
        'InvalidInput',
        `previous terminated container "${container}" in pod "${pod}" not found`,
      );
    if (o.previous && !c.taskId) throw noPrevious();
    if (!c.taskId)
      throw new NodeError(
        'InvalidInput',
        `container "${container}" in pod "${pod}" is waiting to start: ${c.waiting?.reason ?? 'ContainerCreating'}`,
      );
    return this.o.isolation
      .logs(c.taskId, {
        follow: o.follow,
        since: o.since,
        timestamps: o.timestamps,
        tail: o.tail,
        stream: o.stream,
        limitBytes: o.limitBytes,
        signal: o.signal,
        ...(o.previous && { previous: true, follow: false }),
      })
      .catch((err: unknown) => {
        throw o.previous && (err as NodeError).kind === 'NotFound' ? noPrevious() : err;
      });
  }

  async runInContainer(
    namespace: string,
    pod: string,
    container: string,
    command: string[],
    io: ExecIO,
  ): Promise<ExecResult> {
    await this.ready;
    return execInPod(this.o.isolation, this.entry(namespace, pod), container, command, io);
  }

  async attachToContainer(
    namespace: string,
    pod: string,
    container: string,
    io: ExecIO,
  ): Promise<void> {
    await this.ready;
    return attachInPod(this.o.isolation, this.entry(namespace, pod), container, io);
  }

  async portForward(
    namespace: string,
    pod: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<Duplex> {
    await this.ready;
    const vp = this.entry(namespace, pod);
    const isolation = this.o.isolation;
    if (!isolation.portForward)
      throw new NodeError('NotImplemented', 'this VCH client cannot forward ports');
    if (!vp.id) throw new NodeError('Conflict', `pod ${namespace}/${pod} is not running yet`);
    return isolation.portForward(vp.id, port, signal);
  }

  private entry(namespace: string, name: string): VicPod {
    const vp = this.cache.get(namespace, name);
    if (!vp) throw new NodeError('NotFound', `pod ${namespace}/${name} is not on this node`);
    return vp;
  }
}
