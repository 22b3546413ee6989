// Resource usage as the backends read it: cumulative CPU time and memory from a container's
// cgroup (runc: the host's; vm: the guest's, reported by the agent), processes, and the network
// counters of a sandbox's interfaces. Plain data; rates are for whoever keeps two samples.

export interface CpuUsage {
  /** CPU time used since the container started, in nanoseconds (cumulative). */
  usageNanoSeconds: number;
}

export interface MemoryUsage {
  /** All memory charged to the cgroup, page cache included. */
  usageBytes: number;
  /** usage minus inactive file pages: what the kubelet and cadvisor call the working set. */
  workingSetBytes: number;
  /** Anonymous memory (and swap cache). */
  rssBytes: number;
  pageFaults: number;
  majorPageFaults: number;
  /** The cgroup's limit, when it has one. */
  limitBytes?: number;
}

export interface ContainerUsage {
  cpu: CpuUsage;
  memory: MemoryUsage;
  /** Processes (tasks) in the cgroup, when the pids controller counts them. */
  processes?: number;
}

export interface InterfaceUsage {
  name: string;
  rxBytes: number;
  rxErrors: number;
  txBytes: number;
  txErrors: number;
}

/** A sandbox's network: every interface of its namespace but loopback. */
export interface SandboxUsage {
  interfaces: InterfaceUsage[];
}

/** A filesystem's use by one container (its writable layer, its log) and the device's room. */
export interface FsUsage {
  /** Bytes allocated to what is counted (du's figure, not apparent sizes). */
  usedBytes: number;
  inodesUsed: number;
  /** The filesystem it lives on. */
  capacityBytes: number;
  availableBytes: number;
  inodes: number;
  inodesFree: number;
}

/** What a backend tells of one container. */
export interface ContainerSample {
  /** CPU, memory and processes while it runs; absent when it does not. */
  usage?: ContainerUsage;
  /** Its writable layer (the overlay's upper directory, or its copy of the image). */
  rootfs?: FsUsage;
}
