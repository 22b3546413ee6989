// What the virtual kubelet drives: a Provider runs pods somewhere (a VIC Virtual Container
// Host, a test double) and answers for them. The controllers never know where.
//
// Errors: throw NodeError (or anything with a `kind`): NotFound when the pod or container is
// not there, InvalidInput when the pod can never be run as asked (no retry), anything else is
// retried with backoff.
import type { Duplex, Readable, Writable } from 'node:stream';
import type * as k8s from '@kubernetes/client-node';
import type { EventReason } from './events.js';
import type { NodeUsage } from './stats/usage.js';
import type { Observations } from './pressure/thresholds.js';

export interface ContainerLogOptions {
  /** Only the last N lines. */
  tail?: number;
  /** Unix nanoseconds: lines at or after this time. */
  since?: bigint;
  timestamps?: boolean;
  /** Stop after this many bytes. */
  limitBytes?: number;
  follow?: boolean;
  /** The previous instance of a restarted container. */
  previous?: boolean;
  /** Which stream (kubelet's `stream` query parameter); default both. */
  stream?: 'stdout' | 'stderr' | 'all';
  /** Aborts when the client goes away; a follow must end then. */
  signal?: AbortSignal;
}

/** An Event a provider reports on one of its pods; the node records it. */
export interface PodEvent {
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
  /** The container it concerns (the Event's involvedObject.fieldPath names it). */
  container?: string;
}

/** A terminal's size (kubectl's resize messages). */
export interface TerminalSize {
  width: number;
  height: number;
}

/** The client's ends of an exec (virtual-kubelet's AttachIO): only the streams it asked for. */
export interface ExecIO {
  stdin?: Readable;
  stdout?: Writable;
  /** Absent with a TTY: the terminal carries both. */
  stderr?: Writable;
  tty: boolean;
  /** Sizes as the client's terminal changes (with a TTY). */
  resize?: AsyncIterable<TerminalSize>;
  /** Aborts when the client goes away; the command is to be ended then. */
  signal: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
}

export interface NodeConditionsAndAddresses {
  capacity: Record<string, string>;
  allocatable?: Record<string, string>;
  conditions: k8s.V1NodeCondition[];
  addresses: k8s.V1NodeAddress[];
  nodeInfo: Partial<k8s.V1NodeSystemInfo>;
  /** The images the node has (status.images), largest first; absent: not reported. */
  images?: k8s.V1ContainerImage[];
  /** The eviction signals measured now (memory, nodefs, imagefs, pids); absent: none. */
  signals?: Observations;
}

export interface Provider {
  // ---- pod lifecycle ----
  /** Starts running the pod. Returns once the provider has taken it on (not when it runs). */
  createPod(pod: k8s.V1Pod): Promise<void>;
  /** Applies a changed spec (images, deadlines) to a pod the provider runs. */
  updatePod(pod: k8s.V1Pod): Promise<void>;
  /**
   * Stops the pod's containers (within its grace period) and forgets it. Throws NotFound if
   * the provider does not have it.
   */
  deletePod(pod: k8s.V1Pod): Promise<void>;
  /** The pod as the provider has it, or undefined. */
  getPod(namespace: string, name: string): Promise<k8s.V1Pod | undefined>;
  /** The pod's status, or undefined if the provider does not have it. */
  getPodStatus(namespace: string, name: string): Promise<k8s.V1PodStatus | undefined>;
  getPods(): Promise<k8s.V1Pod[]>;
  /**
   * Optional: the provider pushes status changes (the pod with its new status). When present,
   * the controller stops polling getPodStatus every 5 s.
   */
  notifyPods?(callback: (pod: k8s.V1Pod) => void): void;
  /**
   * Optional: the provider reports Events on its pods (a container's configuration that cannot
   * be made, keys skipped); the node records them as the kubelet's recorder does.
   */
  notifyEvents?(callback: (pod: k8s.V1Pod, event: PodEvent) => void): void;

  // ---- node ----
  /** Throws while the provider cannot run pods; the node then stops renewing its lease. */
  ping(): Promise<void>;
  nodeStatus(): Promise<NodeConditionsAndAddresses>;
  /**
   * Optional: evicts the pod as the kubelet's eviction manager does (its containers stopped,
   * not restarted; the pod Failed with reason Evicted and `message`).
   */
  evictPod?(pod: k8s.V1Pod, message: string): Promise<void>;
  /** Optional: the provider pushes a change of its node status; it is written at once. */
  notifyNodeStatus?(callback: () => void): void;

  // ---- streaming ----
  getContainerLogs(
    namespace: string,
    pod: string,
    container: string,
    options: ContainerLogOptions,
  ): Promise<Readable>;
  /**
   * Optional (virtual-kubelet's RunInContainer): runs `command` in a running container with the
   * client's streams; resolves with its exit code once it is over and its output written.
   * NotFound: no such pod or container; NotImplemented: the node cannot do what was asked
   * (say, stdin or a TTY).
   */
  runInContainer?(
    namespace: string,
    pod: string,
    container: string,
    command: string[],
    io: ExecIO,
  ): Promise<ExecResult>;
  /**
   * Optional (virtual-kubelet's AttachToContainer): attaches the client's streams to a running
   * container's own process (kubectl attach): its output from now on, its stdin (created with
   * stdin), its terminal's size (created with tty); resolves when the session is over (the
   * container exited, the client left, or its input ended). NotFound: no such pod or container;
   * InvalidInput: stdin or a TTY asked of a container created without.
   */
  attachToContainer?(namespace: string, pod: string, container: string, io: ExecIO): Promise<void>;
  /**
   * Optional (virtual-kubelet's PortForward): a TCP connection to `port` on the pod's own
   * loopback, made inside the pod (kubectl port-forward); resolves once connected, and the
   * caller owns it. NotFound: no such pod; Unavailable: nothing listens there (the message says
   * why, as the kubelet's error stream does).
   */
  portForward?(namespace: string, pod: string, port: number, signal?: AbortSignal): Promise<Duplex>;
  /**
   * Optional: resource use of the node and its pods now (stats/usage.ts), what the kubelet
   * API's /stats/summary and /metrics/resource are made of. Without it they answer 501.
   */
  getStats?(): Promise<NodeUsage>;
}
