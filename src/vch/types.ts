// The VCH core's public types: what the persona (Docker Engine API) and the portlayer API
// server ask of the core and what it answers. Plain data, no HTTP, no Docker JSON.
import type { Credentials, ImageRecord, PullProgress } from '../image/index.js';
import type { LogQuery } from '../iolog/index.js';
import type { PublishedPort, SandboxNames, SecuritySpec } from '../runtime/runtime.js';
import type { PreviousRun } from './services/previous-log.js';
import type { ContainerMount } from './volumes/volume-types.js';

export type * from './volumes/volume-types.js';

/** Lifecycle of a container as the VCH records it. */
export type ContainerStatus = 'created' | 'running' | 'exited';

/** What a container runs, as requested (before merging with the image's config). */
export interface ContainerConfig {
  /**
   * Ports published on the VCH's addresses (Docker's -p), as asked for: host port 0 is one the
   * VCH picks (the pod's spec has the one it picked). Only for a container's own pod.
   */
  ports?: PublishedPort[];
  /** Docker's -P: every exposed port without a binding is published on a port the VCH picks. */
  publishAllPorts?: boolean;
  /** "80/tcp" keys (Docker's ExposedPorts): the request's; the record has the image's too. */
  exposedPorts?: string[];
  /** The image as the caller named it (reference, id or id prefix). */
  image: string;
  /** Overrides the image's Entrypoint when given ([] clears it). */
  entrypoint?: string[];
  /** Overrides the image's Cmd when given. */
  cmd?: string[];
  /** KEY=value, added to (and overriding) the image's Env. */
  env?: string[];
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  /** Signal `stop` sends first: "SIGTERM", "15". Default the image's StopSignal, else SIGTERM. */
  stopSignal?: string;
  /** Seconds `stop` waits before SIGKILL. Default 10. */
  stopTimeout?: number;
  /** Hard memory limit in bytes. */
  memoryLimitBytes?: number;
  /** CPU limit in millicores. */
  cpuMillis?: number;
  /** The UTS hostname (for a container with a sandbox of its own). Default: the id's first 12. */
  hostname?: string;
  /** Remove the container once it has exited (`docker run --rm`). */
  autoRemove?: boolean;
  /**
   * The backend of a container with a sandbox of its own (`docker run --runtime`); default the
   * label vic-kubelet.io/runtime, else the VCH's default.
   */
  runtime?: 'runc' | 'vm';
  /** Supplementary groups on top of the user's (Docker's --group-add): names or gids. */
  groupAdd?: string[];
  /** Read-only root, capabilities, no_new_privs (Docker's --read-only, --cap-*, --security-opt). */
  security?: SecuritySpec;
  /** Namespaced sysctls of the container's own sandbox (Docker's --sysctl). */
  sysctls?: Record<string, string>;
  /** Its own sandbox's resolv.conf and /etc/hosts (Docker's --dns*, --add-host, --domainname). */
  names?: SandboxNames;
  /** Kubernetes' terminationMessagePath: its content (4 KiB at most) is read at each exit. */
  terminationMessagePath?: string;
  /** Volumes, host paths and tmpfs mounted in the container (volumes/container-mounts.ts). */
  mounts?: ContainerMount[];
  /**
   * Another container of the same pod (its name in the pod) whose PID namespace this one joins
   * (Kubernetes' targetContainerName, `kubectl debug --target`); runc pods only.
   */
  pidNamespaceOf?: string;
  /** Its stdin stays open for attach sessions (Docker's OpenStdin, Kubernetes' stdin). */
  stdin?: boolean;
  /** Its stdin closes when the first attach session with stdin ends (StdinOnce, stdinOnce). */
  stdinOnce?: boolean;
  /** It runs on a terminal (Docker's Tty, Kubernetes' tty): its output is all stdout. */
  tty?: boolean;
}

export interface CreateContainerRequest extends ContainerConfig {
  /** Unique across the VCH (Docker's rules: [a-zA-Z0-9][a-zA-Z0-9_.-]+). Generated if absent. */
  name?: string;
  /** The pod to create it in; absent: a sandbox of its own, removed with the container. */
  podId?: string;
  /** The container's name within its pod (Kubernetes container name). Default: `name`. */
  nameInPod?: string;
}

export interface ContainerInfo {
  /** 64 lowercase hex digits. */
  id: string;
  name: string;
  nameInPod: string;
  podId: string;
  /** The pod was made for this container alone (a plain `docker run`). */
  ownPod: boolean;
  config: ContainerConfig;
  /** The normalized reference the image was found under, and its id (config digest). */
  imageReference: string;
  imageId: string;
  /** The process the container runs, after merging the image's config (Docker's rules). */
  path: string;
  args: string[];
  env: string[];
  workingDir: string;
  user: string;
  stopSignal: string;
  /** RFC 3339 with nanoseconds, UTC. */
  created: string;
  status: ContainerStatus;
  /** Host pid while running. */
  pid?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** Why it ended if not a plain exit ("OOMKilled", "Killed", "Lost"), or a start failure. */
  error?: string;
  /** What the last run wrote to its terminationMessagePath, when it has exited. */
  terminationMessage?: string;
  /** Starts after the first. */
  restartCount: number;
  /** A restarted pod task's previous run: how it ended (previous-log.ts). */
  previousRun?: PreviousRun;
  logPath: string;
  /** The backend its pod runs on. */
  runtime: 'runc' | 'vm';
  /** Its pod's address on the VCH's bridge network, once attached. */
  network?: PodNetworkInfo;
}

export interface CreatePodRequest {
  /** Unique pod name (Kubernetes namespace/name, say). Generated if absent. */
  name?: string;
  hostname?: string;
  labels?: Record<string, string>;
  shareProcessNamespace?: boolean;
  /** Namespaces shared with the VCH's host (Kubernetes hostNetwork, hostPID, hostIPC). */
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  /** Namespaced sysctls of the pod (Kubernetes securityContext.sysctls). */
  sysctls?: Record<string, string>;
  /** The pod's resolv.conf and /etc/hosts (Kubernetes' dnsPolicy, dnsConfig, hostAliases). */
  names?: SandboxNames;
  /** The pod's size (its VM's, on the vm backend). */
  memoryLimitBytes?: number;
  cpuMillis?: number;
  /** Backend; default the label vic-kubelet.io/runtime, else the VCH's default. */
  runtime?: 'runc' | 'vm';
  /** Ports published on the VCH's addresses (Kubernetes' hostPort), through portmap. */
  ports?: PublishedPort[];
}

export interface PodInfo {
  id: string;
  name: string;
  hostname: string;
  labels: Record<string, string>;
  /** Made implicitly for one container; removed with it. */
  implicit: boolean;
  created: string;
  containerIds: string[];
  /** The backend its sandbox runs on. */
  runtime: 'runc' | 'vm';
  /** Its address on the VCH's bridge network, once its sandbox is attached. */
  network?: PodNetworkInfo;
}

/** A pod's place on the VCH's bridge network (VIC's endpoint in the bridge scope). */
export interface PodNetworkInfo {
  /** The scope's name: "bridge". */
  scope: string;
  /** "10.88.0.2/16" */
  address: string;
  gateway: string;
  mac?: string;
  /** Ports published to it (Docker's -p). */
  ports?: PublishedPort[];
}

/** The VCH's bridge network (VIC's bridge scope). */
export interface NetworkInfo {
  scope: string;
  /** The Linux bridge. */
  bridge: string;
  subnet: string;
  gateway: string;
}

export interface ImageInfo {
  /** The image id: its config digest, `sha256:…`. */
  id: string;
  /** Normalized references naming it: `127.0.0.1:5000/busybox:latest`. */
  references: string[];
  /** `repository@sha256:…` of the manifests it was pulled by. */
  digests: string[];
  /** Unix seconds from the image config's `created`, else when it was stored. */
  created: number;
  /** Sum of the layer blobs' sizes. */
  size: number;
  /** The image config's `config` (Entrypoint, Cmd, Env, …) as the image has it. */
  config: Record<string, unknown>;
  os: string;
  architecture: string;
  /** The layers' DiffIDs (digests of the uncompressed layers), bottom first. */
  diffIds: string[];
  records: ImageRecord[];
}

export interface PullRequest {
  reference: string;
  credentials?: Credentials;
  onProgress?: (event: PullProgress) => void;
}

export interface PullOutcome {
  image: ImageInfo;
  /** The normalized reference pulled. */
  reference: string;
  /** Blobs downloaded; 0 means the image was up to date. */
  fetchedBlobs: number;
}

export interface LoadResult {
  /** References loaded. */
  references: string[];
}

/** A container's logs, asked as iolog's query asks them (times in unix ns, inclusive). */
export type LogsRequest = Pick<
  LogQuery,
  'since' | 'until' | 'tail' | 'stream' | 'timestamps' | 'limitBytes' | 'signal'
> & {
  /** Keep going as output arrives until the container stops or `signal` aborts. */
  follow?: boolean;
  /** The previous instance's log (a pod's container: services/previous-log.ts); no follow. */
  previous?: boolean;
};

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  exitCode: number;
  error?: string;
}

export interface StopRequest {
  /** Default the container's stop signal. */
  signal?: string;
  /** Seconds before SIGKILL; default the container's stopTimeout, else 10. */
  timeoutSeconds?: number;
}

export interface RemoveRequest {
  /** Kill a running container first. */
  force?: boolean;
}

export interface ContainerFilter {
  /** Include containers that are not running. Default false. */
  all?: boolean;
  /** Substring (or /^anchored$/ regexp) of the name; any matches. */
  names?: string[];
  /** Id prefixes; any matches. */
  ids?: string[];
  statuses?: ContainerStatus[];
  /** "key" or "key=value"; all must match. */
  labels?: string[];
  podId?: string;
}

/** A state change, as `docker events` would name it. */
export interface VchEvent {
  type: 'container' | 'image' | 'pod';
  action: 'create' | 'start' | 'die' | 'stop' | 'kill' | 'destroy' | 'pull' | 'load' | 'delete';
  id: string;
  /** Unix ns. */
  time: bigint;
  attributes: Record<string, string>;
}

export interface Capacity {
  cpus: number;
  memoryBytes: number;
  /** Bytes of the state directory's file system: total and free. */
  diskBytes: number;
  diskFreeBytes: number;
  /** Limits of running containers (those without a limit count nothing). */
  usedCpuMillis: number;
  usedMemoryBytes: number;
  runningContainers: number;
  pods: number;
}

export interface VchInfo {
  name: string;
  version: string;
  runtime: string;
  stateDir: string;
  containers: { total: number; running: number; stopped: number; created: number };
  images: number;
  capacity: Capacity;
  os: string;
  kernelVersion: string;
  architecture: string;
  /** Pod VM boot times so far (the boot metric), where the VCH has the vm backend. */
  vmBoots?: { count: number; meanMs?: number; maxMs: number; lastMs?: number; accel?: string };
}
