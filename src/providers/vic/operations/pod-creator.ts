// PodCreator: makes a pod on the VCH as the seed's provider did. First every container's image
// is pulled through the persona (all at once, credentials from the pod's imagePullSecrets);
// then one handle carries the whole pod — image join and task join per container, logging and
// interaction joins — and one commit creates it, so a pod is on the VCH entirely or not at all.
import { podHostPorts } from './host-ports.js';
import { DEFAULT_NODE_DNS, podNames, type NodeDns } from './pod-dns.js';
import type * as k8s from '@kubernetes/client-node';
import { errorKind, errorMessage } from '../../../node/errors.js';
import type { Logger } from '../../../logging/logger.js';
import {
  ANNOTATION_NAME,
  ANNOTATION_NAMESPACE,
  ANNOTATION_POD,
  ANNOTATION_RUNTIME,
  ANNOTATION_UID,
  podForAnnotation,
} from '../cache/vic-pod.js';
import type { ImageConfig, ImageStore } from '../proxy/image-store.js';
import type { IsolationProxy } from '../proxy/isolation-proxy.js';
import { credentialsFor } from '../proxy/pull-secrets.js';
import { splitReference } from '../proxy/reference.js';
import type { PodEvent } from '../../../node/provider.js';
import { taskConfig } from './container-config.js';
import { containerEnv, gatherEnvInputs, type NodeFacts } from './container-env.js';
import { commitSandboxFirst, needsPodAddress } from './pod-address.js';
import { memoizedSources, type EnvSources } from './env-sources.js';
import { containerEvents } from './container-events.js';
import { ContainerConfigError, ContainerCreateError, ImagePullError } from './errors.js';
import { allContainers, isSidecar } from './init-sequence.js';
import { parseQuantity } from './quantity.js';
import { DEFAULT_SECCOMP_PROFILE_ROOT, taskSeccomp } from './seccomp-profile.js';
import { podSysctls } from './sysctl-policy.js';
import { PodVolumes, type VolumeContext } from './volumes/pod-volumes.js';

/** Looks up a Secret for imagePullSecrets; undefined when there is none. */
export type SecretSource = (namespace: string, name: string) => Promise<k8s.V1Secret | undefined>;

/** Where containers' environments come from beyond the pod itself, and the node's policies. */
export interface EnvContext {
  /** ConfigMaps, Secrets, Services; without them a pod that references one cannot start. */
  sources?: EnvSources;
  /** The node's allocatable and addresses (resourceFieldRef defaults, status.hostIP). */
  node?: () => Promise<NodeFacts>;
  /** status.podIP(s) of the pod: what its status will report. */
  podIPs?: (pod: k8s.V1Pod) => string[];
  /** The node's directory of Localhost seccomp profiles (--seccomp-profile-root). */
  seccompProfileRoot?: string;
  /** Sysctls allowed beyond the safe set (--allowed-unsafe-sysctls). */
  allowedUnsafeSysctls?: string[];
  /** --cluster-dns, --cluster-domain, --resolv-conf (pod-dns.ts). */
  dns?: NodeDns;
  /** The VCH's volumes and service-account tokens, for the pod's volumes. */
  volumes?: VolumeContext;
}

/** A container of the pod, made into its task config, with its env for subPathExpr. */
interface TaskPlan {
  c: k8s.V1Container;
  vars: Map<string, string>;
  task: ReturnType<typeof taskConfig>;
}

export interface CreatedPod {
  id: string;
  /** Task id by container name. */
  tasks: Map<string, string>;
}

interface PullResult {
  config: ImageConfig;
  /** How long the pull took (ms); undefined when the image was there already. */
  pullMs?: number;
}

/** One pull that several containers of the pod wait on. */
interface SharedPull {
  result: Promise<PullResult>;
  /** Containers that asked before the pull began: they hear Pulling when it does. */
  waiting: string[];
  started: boolean;
}

export class PodCreator {
  constructor(
    private readonly imageStore: ImageStore,
    private readonly isolation: IsolationProxy,
    private readonly secrets: SecretSource | undefined,
    private readonly log: Logger,
    private readonly env: EnvContext = {},
  ) {}

  /**
   * Pulls the pod's images; throws ImagePullError naming the first container that failed.
   * `onEvent` hears the kubelet's Pulling and Pulled (or "already present") per container.
   */
  async pullImages(
    pod: k8s.V1Pod,
    signal?: AbortSignal,
    /** Only these containers' images (a pod update that changed them). */
    only?: string[],
    onEvent?: (e: PodEvent) => void,
  ): Promise<Map<string, ImageConfig>> {
    const secrets = await this.pullSecrets(pod);
    const images = new Map<string, ImageConfig>();
    // One pull per image and policy, however many containers run it; each of them hears of it.
    const pulls = new Map<string, SharedPull>();
    // Named ones may be ephemeral containers (kubectl debug), added to the running pod.
    const candidates = only
      ? [
          ...allContainers(pod.spec),
          ...((pod.spec?.ephemeralContainers ?? []) as k8s.V1Container[]),
        ]
      : allContainers(pod.spec);
    const results = await Promise.allSettled(
      candidates
        .filter((c) => !only || only.includes(c.name))
        .map(async (c) => {
          const key = `${c.image}|${c.imagePullPolicy ?? ''}`;
          const image = c.image ?? '';
          const asked = performance.now();
          let pull = pulls.get(key);
          if (!pull) {
            const shared = {
              waiting: [] as string[],
              started: false,
              result: undefined as Promise<PullResult> | undefined,
            };
            shared.result = this.pullImage(pod, c, secrets, () => {
              shared.started = true;
              for (const name of shared.waiting) onEvent?.(containerEvents.pulling(name, image));
            });
            pulls.set(key, (pull = shared as SharedPull));
          }
          if (pull.started) onEvent?.(containerEvents.pulling(c.name, image));
          else pull.waiting.push(c.name);
          try {
            const { config, pullMs } = await pull.result;
            images.set(c.name, config);
            onEvent?.(
              pullMs === undefined
                ? containerEvents.present(c.name, image)
                : containerEvents.pulled(
                    c.name,
                    image,
                    pullMs,
                    performance.now() - asked,
                    config.size,
                  ),
            );
          } catch (err) {
            // The error names the container it is reported on.
            if (err instanceof ImagePullError && err.container !== c.name)
              throw new ImagePullError(c.name, err.image, err.message, err.kind, err.neverPull);
            throw err;
          }
          signal?.throwIfAborted();
        }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return images;
  }

  /**
   * Creates the pod on the VCH from pulled images: one handle, one commit. A container whose
   * environment cannot be made (a ConfigMap or Secret missing) throws ContainerConfigError.
   */
  async create(
    pod: k8s.V1Pod,
    images: Map<string, ImageConfig>,
    onEvent?: (e: PodEvent) => void,
  ): Promise<CreatedPod> {
    const m = pod.metadata!;
    const sources = this.env.sources && memoizedSources(this.env.sources);
    const node = (await this.env.node?.()) ?? { allocatable: {}, hostIPs: [] };
    // Configs first: a spec that cannot run fails before anything is asked of the VCH — but
    // for a pod whose env takes its IP, after its sandbox exists (pod-address.ts).
    const sandboxFirst = needsPodAddress(pod);
    const early = sandboxFirst
      ? undefined
      : await this.taskConfigs(pod, images, sources, node, this.env.podIPs?.(pod) ?? [], onEvent);
    // Volume content next, for the same reason (a missing ConfigMap waits, nothing is made).
    const volumes = await PodVolumes.prepare(pod, this.env.volumes ?? {}, sources, node, this.log);
    const names = podNames(pod, this.env.dns ?? DEFAULT_NODE_DNS);
    for (const e of names.events) onEvent?.(e);
    const created = await this.isolation.createHandle({
      name: `${m.namespace}_${m.name}`,
      ...names.config,
      annotations: {
        [ANNOTATION_NAMESPACE]: m.namespace!,
        [ANNOTATION_NAME]: m.name!,
        [ANNOTATION_UID]: m.uid ?? '',
        [ANNOTATION_POD]: podForAnnotation(pod),
        ...(m.annotations?.[ANNOTATION_RUNTIME] !== undefined && {
          [ANNOTATION_RUNTIME]: m.annotations[ANNOTATION_RUNTIME],
        }),
      },
      ...podResources(pod),
      ...(pod.spec!.shareProcessNamespace && { shareProcessNamespace: true }),
      // (validate.ts lets these through only on a node started with --allow-host-namespaces)
      ...(pod.spec!.hostNetwork && { hostNetwork: true }),
      ...(pod.spec!.hostPID && { hostPID: true }),
      ...(pod.spec!.hostIPC && { hostIPC: true }),
      // A hostNetwork pod's ports are the node's own: nothing to publish.
      ...(!pod.spec!.hostNetwork && podHostPorts(pod).length > 0 && { ports: podHostPorts(pod) }),
      ...(pod.spec!.securityContext?.sysctls?.length && {
        sysctls: podSysctls(pod, this.env.allowedUnsafeSysctls ?? []),
      }),
    });
    if (!sandboxFirst) {
      try {
        await volumes.create(created.id);
        return await this.joinAndCommit(
          pod,
          images,
          created,
          created.handle,
          early!,
          true,
          volumes,
        );
      } catch (err) {
        await volumes.discard();
        throw err;
      }
    }
    const first = await commitSandboxFirst(this.isolation, created.id, created.handle);
    try {
      await volumes.create(created.id);
      const tasks = await this.taskConfigs(pod, images, sources, node, first.podIPs, onEvent);
      return await this.joinAndCommit(pod, images, created, first.handle, tasks, false, volumes);
    } catch (err) {
      await volumes.discard();
      // The pod is on the VCH entirely or not at all: its sandbox goes again.
      await this.isolation
        .remove(created.id, true)
        .catch((e: unknown) =>
          this.log.warn({ id: created.id, err: errorMessage(e) }, 'cannot remove a half-made pod'),
        );
      throw err;
    }
  }

  /** Each container's task config; ContainerConfigError or ContainerCreateError for one that cannot be made. */
  private async taskConfigs(
    pod: k8s.V1Pod,
    images: Map<string, ImageConfig>,
    sources: EnvSources | undefined,
    node: NodeFacts,
    podIPs: string[],
    onEvent?: (e: PodEvent) => void,
  ): Promise<TaskPlan[]> {
    // One read of each referenced object for this attempt, for all containers.
    const inputs = await gatherEnvInputs(pod, sources, node, podIPs);
    // Init containers first: the monitor starts tasks in join order (init-sequence.ts).
    const containers = allContainers(pod.spec);
    const seccomp = await Promise.all(containers.map((c) => this.seccompOf(pod, c)));
    return containers.map((c, i) => {
      const { task, vars } = this.configOf(pod, c, images.get(c.name)!, inputs, onEvent);
      return { c, vars, task: { ...task, ...seccomp[i] } };
    });
  }

  /** Localhost seccomp profiles are the node's files: read now, sent with the task. */
  private seccompOf(pod: k8s.V1Pod, c: k8s.V1Container) {
    return taskSeccomp(pod, c, this.env.seccompProfileRoot ?? DEFAULT_SECCOMP_PROFILE_ROOT);
  }

  /** Joins the containers on `handle` (and the pod-level joins when `podJoins`) and commits. */
  private async joinAndCommit(
    pod: k8s.V1Pod,
    images: Map<string, ImageConfig>,
    created: { id: string },
    handle: string,
    tasks: TaskPlan[],
    podJoins: boolean,
    volumes: PodVolumes,
  ): Promise<CreatedPod> {
    const m = pod.metadata!;
    let h = handle;
    const ids = new Map<string, string>();
    for (const { c, vars, task } of tasks) {
      const image = images.get(c.name)!;
      try {
        h = await this.isolation.addImageToHandle(h, {
          deltaID: c.name,
          imageID: image.id,
          repoName: c.image,
        });
        const joined = await this.isolation.createHandleTask(h, task);
        h = joined.handle;
        ids.set(c.name, joined.id);
      } catch (err) {
        const kind = errorKind(err) === 'InvalidInput' ? 'InvalidInput' : 'Unavailable';
        throw new ContainerCreateError(c.name, kind, errorMessage(err));
      }
      // Its volume mounts, right after its task join (subPathExpr takes its env).
      h = await volumes.join(h, c, vars);
    }
    if (podJoins) {
      h = await this.isolation.addInteractionToHandle(h);
      h = await this.isolation.addLoggingToHandle(h);
    }
    await this.isolation.commitHandle(h);
    this.log.info({ pod: `${m.namespace}/${m.name}`, id: created.id }, 'pod created on the VCH');
    return { id: created.id, tasks: ids };
  }

  /** The task config of one container of the pod (a container recreated with a new image). */
  async taskConfigFor(
    pod: k8s.V1Pod,
    c: k8s.V1Container,
    image: ImageConfig,
    onEvent?: (e: PodEvent) => void,
  ): Promise<{ task: ReturnType<typeof taskConfig>; vars: Map<string, string> }> {
    const inputs = await gatherEnvInputs(
      pod,
      this.env.sources && memoizedSources(this.env.sources),
      (await this.env.node?.()) ?? { allocatable: {}, hostIPs: [] },
      this.env.podIPs?.(pod) ?? [],
    );
    const { task, vars } = this.configOf(pod, c, image, inputs, onEvent);
    return { task: { ...task, ...(await this.seccompOf(pod, c)) }, vars };
  }

  /** A recreated container's volume mounts, joined on `handle` after its task. */
  joinVolumes(
    handle: string,
    pod: k8s.V1Pod,
    c: k8s.V1Container,
    vars: Map<string, string>,
  ): Promise<string> {
    if (!c.volumeMounts?.length) return Promise.resolve(handle);
    return PodVolumes.joinMounts(this.env.volumes?.store, pod, handle, c, vars);
  }

  private configOf(
    pod: k8s.V1Pod,
    c: k8s.V1Container,
    image: ImageConfig,
    inputs: Awaited<ReturnType<typeof gatherEnvInputs>>,
    onEvent?: (e: PodEvent) => void,
  ): { task: ReturnType<typeof taskConfig>; vars: Map<string, string> } {
    const resolved = containerEnv(pod, c, image, inputs);
    for (const e of resolved.events) onEvent?.(e);
    try {
      return { task: taskConfig(pod, c, image, resolved), vars: resolved.vars };
    } catch (err) {
      // A config the kubelet would not make (runAsNonRoot and a root image) waits as such.
      if (err instanceof ContainerConfigError) throw err;
      throw new ContainerCreateError(
        c.name,
        errorKind(err) === 'InvalidInput' ? 'InvalidInput' : 'Unavailable',
        errorMessage(err),
      );
    }
  }

  private async pullSecrets(pod: k8s.V1Pod): Promise<k8s.V1Secret[]> {
    const out: k8s.V1Secret[] = [];
    for (const ref of pod.spec?.imagePullSecrets ?? []) {
      if (!ref.name || !this.secrets) continue;
      try {
        const s = await this.secrets(pod.metadata!.namespace!, ref.name);
        if (s) out.push(s);
        else this.log.warn({ secret: ref.name }, 'image pull secret not found; pulling without it');
      } catch (err) {
        this.log.warn({ secret: ref.name, err: errorMessage(err) }, 'image pull secret unreadable');
      }
    }
    return out;
  }

  /** The image's config, and how long its pull took (undefined: it was there already). */
  private async pullImage(
    pod: k8s.V1Pod,
    c: k8s.V1Container,
    secrets: k8s.V1Secret[],
    onStart: () => void,
  ): Promise<PullResult> {
    const image = c.image ?? '';
    const policy = c.imagePullPolicy ?? defaultPullPolicy(image);
    const fail = (err: unknown, never = false) =>
      new ImagePullError(
        c.name,
        image,
        `failed to pull image ${JSON.stringify(image)}: ${errorMessage(err)}`,
        errorKind(err) === 'NotFound' || errorKind(err) === 'InvalidInput'
          ? 'NotFound'
          : 'Unavailable',
        never,
      );
    try {
      if (policy !== 'Always') {
        const have = await this.imageStore.get(image);
        if (have) return { config: have };
        if (policy === 'Never')
          throw fail(new Error('the image is not on the node and imagePullPolicy is Never'), true);
      }
      const ref = splitReference(image);
      onStart();
      const began = performance.now();
      await this.imageStore.pull(image, credentialsFor(ref.registry, secrets), (status) =>
        this.log.debug({ pod: pod.metadata?.name, image, status }, 'pulling'),
      );
      const pullMs = performance.now() - began;
      const pulled = await this.imageStore.get(image);
      if (!pulled) throw new Error('the persona has no such image after pulling it');
      return { config: pulled, pullMs };
    } catch (err) {
      if (err instanceof ImagePullError) throw err;
      throw fail(err);
    }
  }
}

/** Kubernetes' default: Always for :latest or no tag, IfNotPresent otherwise. */
export function defaultPullPolicy(image: string): string {
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  return !last.includes(':') || last.endsWith(':latest') ? 'Always' : 'IfNotPresent';
}

/**
 * The pod's size for a pod VM, as the scheduler counts a pod: its app containers and sidecars
 * together, or an init container with the sidecars started before it, whichever is more; each
 * container's limits (requests if none).
 */
function podResources(pod: k8s.V1Pod): { numCPUs?: number; memoryMB?: number } {
  const size = (c: k8s.V1Container) => {
    const r = { ...c.resources?.requests, ...c.resources?.limits };
    return {
      cpu: r.cpu !== undefined ? parseQuantity(r.cpu, `container ${c.name}: cpu`) : 0,
      mem: r.memory !== undefined ? parseQuantity(r.memory, `container ${c.name}: memory`) : 0,
    };
  };
  let sidecars = { cpu: 0, mem: 0 };
  let most = { cpu: 0, mem: 0 };
  for (const c of pod.spec!.initContainers ?? []) {
    const s = size(c);
    if (isSidecar(c)) sidecars = { cpu: sidecars.cpu + s.cpu, mem: sidecars.mem + s.mem };
    else
      most = {
        cpu: Math.max(most.cpu, sidecars.cpu + s.cpu),
        mem: Math.max(most.mem, sidecars.mem + s.mem),
      };
  }
  const apps = pod.spec!.containers.map(size);
  const cpu = Math.max(most.cpu, sidecars.cpu + apps.reduce((n, s) => n + s.cpu, 0));
  const mem = Math.max(most.mem, sidecars.mem + apps.reduce((n, s) => n + s.mem, 0));
  return {
    numCPUs: cpu > 0 ? Math.ceil(cpu) : undefined,
    memoryMB: mem > 0 ? Math.ceil(mem / 2 ** 20) : undefined,
  };
}
