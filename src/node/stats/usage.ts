// What a provider reports of its node's and pods' resource use (Provider.getStats): samples of
// cumulative CPU time, memory, filesystems and network, each with the time it was read. The
// kubelet API renders them as the kubelet's stats/v1alpha1 Summary (summary.ts) and as its
// Prometheus /metrics/resource (resource-metrics.ts). Plain data, provider-neutral.

export interface CpuSample {
  /** CPU time used since start, in nanoseconds (cumulative). */
  usageCoreNanoSeconds: number;
}

export interface MemorySample {
  usageBytes: number;
  workingSetBytes: number;
  rssBytes: number;
  pageFaults: number;
  majorPageFaults: number;
  /** What is left below the limit (a node's: MemAvailable); absent without one. */
  availableBytes?: number;
}

export interface FsSample {
  usedBytes: number;
  inodesUsed: number;
  capacityBytes: number;
  availableBytes: number;
  inodes: number;
  inodesFree: number;
}

export interface InterfaceSample {
  name: string;
  rxBytes: number;
  rxErrors: number;
  txBytes: number;
  txErrors: number;
}

export interface ContainerUsage {
  /** Its name in the pod. */
  name: string;
  /** When the running instance started (RFC 3339). */
  startTime: string;
  /** When the figures were read (RFC 3339). */
  time: string;
  /** Present only while it runs (a stopped container has no CPU or memory to report). */
  cpu?: CpuSample;
  memory?: MemorySample;
  processes?: number;
  rootfs?: FsSample;
  logs?: FsSample;
}

/** One of a pod's volumes: what its content takes and its filesystem's room. */
export interface PodVolumeUsage {
  /** Its name in the pod. */
  name: string;
  time: string;
  fs: FsSample;
  /** On the node's disk (an emptyDir not in memory): counted in the pod's ephemeral storage. */
  localEphemeral: boolean;
}

export interface PodUsage {
  namespace: string;
  name: string;
  uid: string;
  startTime: string;
  time: string;
  /** Its interfaces (loopback left out); none when it has no network of its own. */
  interfaces: InterfaceSample[];
  containers: ContainerUsage[];
  /** Its volumes with figures (emptyDir, configMap, secret, downwardAPI, projected). */
  volumes?: PodVolumeUsage[];
}

export interface NodeUsage {
  /** When the node (its host) started. */
  startTime: string;
  time: string;
  cpu: CpuSample;
  memory: MemorySample;
  /** The filesystem that holds the pods' layers, logs and images. */
  fs?: FsSample;
  pods: PodUsage[];
}
