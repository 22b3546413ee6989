// IsolationProxy: what the provider's operations ask of the VCH's portlayer (VIC's handle API).
// A handle is an immutable change set: every join returns a new handle, and commit applies all
// of it at once or nothing. The HTTP implementation is portlayer-client.ts; unit tests use a
// double (test/support/fake-proxies.ts).
import type { Duplex, Readable } from 'node:stream';
import type {
  ContainerCreateConfig,
  ContainerCreatedInfo,
  ContainerInfo,
  ContainerStateName,
  ImageJoinConfig,
  TaskJoinConfig,
  TaskJoinResponse,
  VCHInfo,
} from '../../../api/portlayer/index.js';

export type {
  ContainerCreateConfig,
  ContainerInfo,
  ProcessConfig,
  TaskInfo,
  TaskJoinConfig,
  VCHInfo,
} from '../../../api/portlayer/index.js';

export interface LogsOptions {
  follow?: boolean;
  /** Unix nanoseconds. */
  since?: bigint;
  timestamps?: boolean;
  tail?: number;
  stream?: 'stdout' | 'stderr' | 'all';
  limitBytes?: number;
  /** The previous instance's log (a restarted task). */
  previous?: boolean;
  signal?: AbortSignal;
}

/** How an exec in a running task (execInTask) ended. */
export interface ExecTaskResult {
  exitCode: number;
  /** The first MiB of each stream. */
  stdout: Buffer;
  stderr: Buffer;
  /** It was killed at its time limit. */
  timedOut: boolean;
  /** Which streams were cut at that MiB. */
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

export interface IsolationProxy {
  ping(): Promise<void>;
  vchInfo(): Promise<VCHInfo>;

  /** A handle for a new container (pod); nothing exists on the VCH until it is committed. */
  createHandle(config: ContainerCreateConfig): Promise<ContainerCreatedInfo>;
  /** A handle on an existing container, to change it. */
  handle(id: string): Promise<string>;
  addImageToHandle(handle: string, image: Omit<ImageJoinConfig, 'handle'>): Promise<string>;
  /** Joins a task (a Kubernetes container) to the handle's container. */
  createHandleTask(handle: string, task: Omit<TaskJoinConfig, 'handle'>): Promise<TaskJoinResponse>;
  /** Marks a task to be started at commit (a restart, when its container runs). */
  bindTask(handle: string, id: string): Promise<string>;
  /** Removes a task (not running) at commit; a task joined after it may take its name. */
  removeTask(handle: string, id: string): Promise<string>;
  addLoggingToHandle(handle: string): Promise<string>;
  addInteractionToHandle(handle: string): Promise<string>;
  setState(handle: string, state: ContainerStateName): Promise<string>;
  /** Applies the handle; Conflict when it is stale. `waitTimeSec`: grace of a stop. */
  commitHandle(handle: string, waitTimeSec?: number): Promise<void>;

  remove(id: string, force?: boolean): Promise<void>;
  info(id: string): Promise<ContainerInfo>;
  list(all?: boolean): Promise<ContainerInfo[]>;
  /** Sends a signal (number) to a task, or to every task of a container. */
  signal(id: string, signal: number): Promise<void>;
  /**
   * Waits until the task (or every task of the container) is not running, at most
   * `timeoutSec`; resolves with its info either way.
   */
  wait(id: string, timeoutSec: number, signal?: AbortSignal): Promise<ContainerInfo>;
  /**
   * Runs `argv` in the running task `taskName` of pod `podId` (an exec task: join with
   * execIn, bind, commit, wait, inspect) and resolves once it has ended: probes and hooks, and
   * kubectl exec. Past `timeoutSec` the VCH kills it (timedOut); without it, it runs as long as
   * it likes. `signal` gives up waiting (the exec goes on). Conflict: the task does not run.
   */
  execInTask(
    podId: string,
    taskName: string,
    argv: string[],
    timeoutSec?: number,
    signal?: AbortSignal,
  ): Promise<ExecTaskResult>;
  /**
   * Starts `argv` in the running task `taskName` of pod `podId` as an attached exec (a task
   * join with attach, bound and committed) and answers its id; its streams are then reached
   * with execOutput/execInput/execResize and its end with execWait. Conflict: not running.
   */
  startAttachedExec(
    podId: string,
    taskName: string,
    argv: string[],
    o: { stdin: boolean; tty: boolean },
  ): Promise<string>;
  /** An attached exec's stdout or stderr as it comes; aborting `signal` kills the exec. */
  execOutput(id: string, which: 'stdout' | 'stderr', signal: AbortSignal): Promise<Readable>;
  /** Feeds `input` to an attached exec's stdin; its end closes it. Resolves once sent. */
  execInput(id: string, input: Readable, signal: AbortSignal): Promise<void>;
  execResize(id: string, size: { width: number; height: number }): Promise<void>;
  /** Waits for an attached exec of pod `podId` to end; its exit code. */
  execWait(podId: string, id: string, signal?: AbortSignal): Promise<number>;
  /**
   * Optional: a TCP connection to `port` on pod `podId`'s own loopback, made inside the pod
   * (kubectl port-forward); resolves once connected. Unavailable: nothing listens there.
   */
  portForward?(podId: string, port: number, signal?: AbortSignal): Promise<Duplex>;
  /** A task's log as text (kubectl logs): both streams in order, unless `stream` says. */
  logs(id: string, options: LogsOptions): Promise<Readable>;
}
