// The portlayer API's wire models: VIC's (reference/vic-portlayer-swagger.json) with their
// names and JSON field names, plus the few fields a pod of several containers needs, each marked
// "extension" (here and in fields.ts, which the contract test checks against VIC's swagger).
// Shared by the server (src/vch/portlayer/) and its client (providers/vic/proxy/), which import
// nothing of each other.
//
// The model: a portlayer *container* is a pod — the isolation unit (a pod VM or a runc sandbox),
// as in VIC's pod-VM branch the seed's provider ran on. Each Kubernetes container is a *task* of
// it, with its own id, image, process, log and exit status. Routes that take a container id
// (`/containers/{id}/logs`, `/wait`, `/signal`, `/info`) also take a task id.

/** Portlayer error body: every 4xx/5xx answer carries one. */
export interface PortlayerError {
  code?: number;
  message: string;
}

export interface VCHInfo {
  /** Total CPU of the VCH in MHz (VIC). */
  cpuMhz?: number;
  /** Total memory in MiB (VIC). */
  memory?: number;
  cpuUsage?: number;
  memUsage?: number;
  hostProductName?: string;
  hostOS?: string;
  hostOSVersion?: string;
  /** extension: logical CPUs the VCH runs pods on. */
  numCPUs?: number;
  /** extension: how many pods the VCH takes. */
  maxPods?: number;
  /** extension: the isolation backend, "runc" or "vm". */
  runtime?: string;
  /** extension: the bridge network's range ("10.88.0.0/16"); absent, pods have loopback only. */
  podNetwork?: string;
  /** extension: the kernel version of the host. */
  kernelVersion?: string;
  /** extension: the architecture (amd64). */
  architecture?: string;
  /** extension: bytes of the VCH's state file system (its nodefs and imagefs), total and free. */
  storageBytes?: number;
  storageFreeBytes?: number;
  /** extension: bytes of memory still available (the host's, or its cgroup's). */
  memoryAvailableBytes?: number;
  /** extension: the process ids the host allows, and those in use. */
  pidMax?: number;
  pidsInUse?: number;
  /** extension: the host's ids (node status nodeInfo). */
  machineID?: string;
  systemUUID?: string;
  bootID?: string;
}

export interface ContainerCreateConfig {
  name?: string;
  numCPUs?: number;
  memoryMB?: number;
  networkDisabled?: boolean;
  annotations?: Record<string, string>;
  hostname?: string;
  domainname?: string;
  /** extension: one PID namespace for all the pod's tasks (Kubernetes shareProcessNamespace). */
  shareProcessNamespace?: boolean;
  /**
   * extension: namespaces the pod shares with the VCH's host (Kubernetes hostNetwork, hostPID,
   * hostIPC): none of its own of that kind. runc only.
   */
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  /** extension: the pod's namespaced sysctls, name → value. */
  sysctls?: Record<string, string>;
  /** extension: the pod's resolv.conf (Kubernetes' dnsPolicy and dnsConfig made concrete). */
  dns?: PodDnsConfig;
  /** extension: more /etc/hosts lines (Kubernetes' hostAliases). */
  hostAliases?: HostAlias[];
  /** extension: ports published on the VCH's addresses (Kubernetes' hostPort), through portmap. */
  ports?: PortMapping[];
  /** extension: a comment line opening /etc/hosts ("# Kubernetes-managed hosts file."). */
  hostsHeader?: string;
}

/** Ours: resolv.conf's parts; a part left out is the VCH host's. */
export interface PodDnsConfig {
  nameservers?: string[];
  searches?: string[];
  options?: string[];
}

/** Ours: one /etc/hosts line. */
/** A port published on the VCH (Kubernetes' hostPort; Docker's -p). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  /** One of the VCH's addresses; all of them when absent. */
  hostIP?: string;
}

export interface HostAlias {
  ip: string;
  hostnames: string[];
}

export interface ContainerCreatedInfo {
  handle: string;
  id: string;
}

/** A handle: an opaque string naming one immutable change set. */
export interface HandleResponse {
  handle: string;
}

/** A join or an add that takes nothing but the handle (logging, interaction, a scope). */
export interface HandleRequest {
  handle: string;
}

export interface ContainerGetStateResponse {
  handle: string;
  state: ContainerStateName;
}

export type ContainerStateName = 'RUNNING' | 'STOPPED';

export interface ImageJoinConfig {
  handle: string;
  /** The task (Kubernetes container name) whose rootfs this image is. */
  deltaID: string;
  imageID?: string;
  repoName?: string;
}

export interface TaskJoinConfig {
  handle: string;
  /** The task's id (64 hex digits); the server picks one when absent. */
  id?: string;
  /** argv[0]. */
  path: string;
  args?: string[];
  workingDir?: string;
  env?: string[];
  user?: string;
  attach?: boolean;
  openStdin?: boolean;
  tty?: boolean;
  stopSignal?: string;
  /** extension: the task's name in its pod (the Kubernetes container name). */
  name?: string;
  /** extension: which image join's rootfs the task runs on; default `name`. */
  deltaID?: string;
  /** extension: hard memory limit in bytes. */
  memoryLimitBytes?: number;
  /** extension: CPU limit in millicores. */
  cpuMillis?: number;
  /** extension: supplementary groups on top of the user's (names or gids). */
  groupAdd?: string[];
  /** extension: the task's root filesystem is read-only (Docker's --read-only). */
  readOnlyRootfs?: boolean;
  /** extension: a privileged task (Kubernetes privileged, Docker --privileged). runc only. */
  privileged?: boolean;
  /** extension: capabilities added to / dropped from Docker's default set (names or "ALL"). */
  capAdd?: string[];
  capDrop?: string[];
  /** extension: no_new_privs for the task's processes. */
  noNewPrivileges?: boolean;
  /** extension: the task's seccomp filter: RuntimeDefault (the default), Unconfined or Localhost. */
  seccompProfile?: string;
  /** extension: with Localhost, the profile's JSON text. */
  seccompLocalhostProfile?: string;
  /**
   * extension: makes the join an exec (VIC's exec session): the process runs in this task of
   * the running pod (by its name in the pod) when the join is bound and committed. No image.
   */
  execIn?: string;
  /** extension: an exec's time limit in seconds; past it the process is killed (SIGKILL). */
  timeoutSeconds?: number;
  /**
   * extension: Kubernetes' terminationMessagePath; at each exit its content (4 KiB at most) is
   * the task's ProcessConfig.terminationMessage.
   */
  terminationMessagePath?: string;
  /**
   * extension: another task of the pod (by its name in the pod) whose process namespace this
   * one joins at each start (Kubernetes' targetContainerName); runc pods only.
   */
  pidNamespaceOf?: string;
  /**
   * extension: with openStdin on a task (not an exec), its stdin closes once the first attach
   * session with stdin ends (Kubernetes' stdinOnce, Docker's StdinOnce).
   */
  stdinOnce?: boolean;
}

/** Names an exec task (`GET /tasks`, `GET /tasks/wait`); the handle is one of its pod. */
export interface TaskInspectConfig {
  handle: string;
  id: string;
}

export interface TaskInspectResponse {
  id: string;
  /** "running" or "exited". */
  state?: string;
  exitCode?: number;
  processConfig?: ProcessConfig;
  user?: string;
  openStdin?: boolean;
  tty?: boolean;
  /** extension: the first MiB of the exec's stdout and stderr, base64. */
  stdout?: string;
  stderr?: string;
  /** extension: which streams were cut at that MiB. */
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
  /** extension: the exec was killed at its timeout. */
  timedOut?: boolean;
}

export interface TaskJoinResponse {
  handle: string;
  id: string;
}

export interface TaskBindConfig {
  handle: string;
  id: string;
}

/** VIC's task remove: the task (not running) leaves the container at commit. */
export interface TaskRemoveConfig {
  handle: string;
  id: string;
}

/** An image of the store (`GET /storage/{store_name}/info/{id}`). */
export interface Image {
  ID: string;
  Store: string;
  Metadata?: Record<string, string>;
}

export interface ProcessConfig {
  pid?: number;
  execPath?: string;
  execArgs?: string[];
  workingDir?: string;
  user?: string;
  env?: string[];
  /** "created", "running" or "exited". */
  status?: string;
  /** Unix seconds (VIC). */
  startTime?: number;
  stopTime?: number;
  exitCode?: number;
  errorMsg?: string;
  /** extension: RFC 3339 with nanoseconds. */
  startedAt?: string;
  finishedAt?: string;
  /** extension: why it exited if not a plain exit: OOMKilled, Killed, Lost. */
  reason?: string;
  /** extension: what the exited run left at its terminationMessagePath (4 KiB at most). */
  terminationMessage?: string;
}

/** extension: one task of a container (pod). */
export interface TaskInfo {
  id: string;
  name: string;
  imageId?: string;
  repoName?: string;
  restartCount: number;
  processConfig: ProcessConfig;
  /** extension: how the task's previous run ended (a restarted task), kept across restarts. */
  previousProcessConfig?: ProcessConfig;
  /** The signal a stop sends first ("SIGTERM", "SIGQUIT", "15"): the image's STOPSIGNAL. */
  stopSignal?: string;
}

export interface ContainerConfig {
  containerId?: string;
  imageId?: string;
  repoName?: string;
  /** Unix seconds. */
  createTime?: number;
  names?: string[];
  annotations?: Record<string, string>;
  /** "Created", "Starting", "Running", "Stopping", "Stopped". */
  state?: string;
  restartCount?: number;
  hostName?: string;
  logPath?: string;
  memorySizeMB?: number;
  numCpu?: number;
}

export interface EndpointConfig {
  id: string;
  name: string;
  scope: string;
  address: string;
  gateway: string;
  container: string;
  ports: string[];
  aliases: string[];
  nameservers: string[];
  trust?: string;
  direct?: boolean;
  macaddress?: string;
}

export interface ContainerInfo {
  containerConfig?: ContainerConfig;
  processConfig?: ProcessConfig;
  endpoints?: EndpointConfig[];
  dataVersion?: number;
  /** extension: the pod's tasks, in join order. */
  tasks?: TaskInfo[];
  /** extension: whether a logging / interaction join was committed. */
  logging?: boolean;
  interaction?: boolean;
}

export interface BindContainerResponse {
  handle: string;
  endpoints: EndpointConfig[];
}

export interface ScopeConfig {
  id?: string;
  name: string;
  scopeType: string;
  subnet?: string;
  gateway?: string;
  dns?: string[];
  endpoints?: EndpointConfig[];
  annotations?: Record<string, string>;
  internal?: boolean;
}

/**
 * `POST /storage/volumes` (CreateVolume). Driver "local": a directory the VCH owns; "bind": a
 * host path. DriverArgs (extension keys, all strings): local — `medium` ("disk" | "memory"),
 * `sizeLimit` (bytes), `uid`, `gid`; bind — `path`, `type` (the hostPath type); both — `pod`
 * (the owning portlayer container id) and `ephemeral` ("true": removed with that pod).
 */
export interface VolumeRequest {
  Name: string;
  /** Always "default". */
  Store: string;
  Driver: string;
  /** Bytes; -1 for none. */
  Capacity: number;
  DriverArgs?: Record<string, string>;
  Metadata?: Record<string, string>;
}

export interface VolumeResponse {
  Name: string;
  Label: string;
  Store: string;
  Driver: string;
  Metadata?: Record<string, string>;
  /** extension (GetVolume, local volumes): bytes the volume's content takes. */
  usageBytes?: number;
  /**
   * extension (GetVolume, local volumes): its content's bytes and inodes (a capped walk: past
   * the cap, a lower bound) and the room of the filesystem it is on.
   */
  usage?: FsStats;
}

/**
 * `POST /storage/volumes/{name}` (VolumeJoin): one mount of the volume into one task; answers
 * a HandleResponse. Flags: `task` (the task's name in the pod), `readOnly` ("true"/"false"),
 * `subPath` (relative, no `..` element, resolved safely inside the volume at start).
 */
export interface VolumeJoinConfig {
  Handle: string;
  /** Absolute path in the task's container. */
  MountPath: string;
  Flags: Record<string, string>;
}

/** extension: one file of a WriteVolumeFiles. */
export interface VolumeFile {
  /** Relative, no `..` or empty element, not starting with `..`. */
  path: string;
  /** base64. */
  data: string;
  /** 0..0o777. */
  mode: number;
  /** This file's owner (the kubelet's FsUser for a token); else the request's uid. */
  uid?: number;
}

/**
 * extension: `PUT /storage/volumes/{name}/files` (WriteVolumeFiles): replaces the volume's whole
 * content atomically (the kubelet's AtomicWriter `..data` symlink scheme); 204.
 */
export interface WriteVolumeFilesRequest {
  files: VolumeFile[];
  uid?: number;
  gid?: number;
}

// ---- stats: `GET /containers/{id}/stats` (VIC's answer is a binary stream, with no model;
// ours is this JSON, one object per line while `stream=true`) and `GET /vch/stats`. ----

/** extension: CPU time used since the task started, in nanoseconds. */
export interface CpuStats {
  usageNanoSeconds: number;
}

/** extension: a cgroup's memory (working set = usage minus inactive file pages). */
export interface MemoryStats {
  usageBytes: number;
  workingSetBytes: number;
  rssBytes: number;
  pageFaults: number;
  majorPageFaults: number;
  limitBytes?: number;
}

/** extension: bytes and inodes in use, and the room of the filesystem they are on. */
export interface FsStats {
  usedBytes: number;
  inodesUsed: number;
  capacityBytes: number;
  availableBytes: number;
  inodes: number;
  inodesFree: number;
}

/** extension: one network interface of a container (pod). */
export interface InterfaceStats {
  name: string;
  rxBytes: number;
  rxErrors: number;
  txBytes: number;
  txErrors: number;
}

/** extension: one task's figures; cpu, memory and processes only while it runs. */
export interface TaskStats {
  id: string;
  name: string;
  /** "created", "running", "exited". */
  status: string;
  startedAt?: string;
  /** When read: RFC 3339 with nanoseconds. */
  read: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  processes?: number;
  rootfs?: FsStats;
  logs?: FsStats;
}

/** extension: a container's (pod's) figures: its network and its tasks'. */
export interface ContainerStats {
  id: string;
  name: string;
  read: string;
  network: InterfaceStats[];
  tasks: TaskStats[];
}

/** extension: the VCH host's memory, with what is still available. */
export interface HostMemoryStats extends MemoryStats {
  availableBytes: number;
}

/** extension: `GET /vch/stats`: the VCH host's figures (a node's). */
export interface VCHStats {
  read: string;
  /** When the host booted (RFC 3339). */
  bootTime: string;
  cpu: CpuStats;
  memory: HostMemoryStats;
  fs: FsStats;
}
