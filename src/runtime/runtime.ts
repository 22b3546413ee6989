// The runtime: the one interface between the VCH and what isolates a pod. A sandbox is a pod's
// shared context (network, IPC and UTS namespaces for runc; the VM for the vm backend); its
// containers run inside it. Backends: runc/ (Debian's runc) and vm/ (a qemu VM per pod).
//
// Who keeps what: the runtime keeps only what it needs to find its sandboxes and containers again
// after the VCH restarts (bundles, runc's state, the status the tether hands back, all under its
// state directory, where no container reaches). A container's start and exit come back over a
// channel the container cannot touch: an fd (runc) or the pod VM's control port (vm). Names, images, pods, restart counts: the VCH's own database. Container output never
// passes through the VCH process: the tether in the container writes iolog entries straight to
// `logPath`, so it keeps flowing while the VCH is down.
//
// Errors carry a `kind` (src/runtime/errors.ts): NotFound (no such sandbox or container),
// Conflict (wrong state for the operation: start of a running container, remove of a running
// one), InvalidInput (a spec that can never run: no such user in the image, empty command),
// Unavailable (the backend cannot work here: runc missing, no overlayfs and no room to copy).
import type { Readable, Writable } from 'node:stream';

import type { Duplex } from 'node:stream';
import type { DnsConfig } from '../api/resolv-conf.js';
import type { ContainerSample, SandboxUsage } from './stats/types.js';

export type { ContainerSample, SandboxUsage } from './stats/types.js';

/** The process a container runs, already merged from the image config and the request. */
export interface ProcessSpec {
  /** argv; args[0] is looked up in the container's PATH (from env) when it has no slash. */
  args: string[];
  /** KEY=value, in order; later duplicates win. */
  env: string[];
  /** Absolute path in the container; created if missing (as Docker does). Default "/". */
  cwd: string;
  /**
   * As Docker's --user: "", "uid", "uid:gid", "name", "name:group". Names are resolved in the
   * container's /etc/passwd and /etc/group; "" is root. An unknown name is InvalidInput.
   */
  user: string;
  /**
   * Supplementary groups on top of the user's (Docker's --group-add, Kubernetes'
   * supplementalGroups): names in the container's /etc/group or numeric gids. Unknown name:
   * InvalidInput.
   */
  groups?: string[];
}

export interface ContainerSpec {
  /** The VCH's id: 64 lowercase hex digits. */
  id: string;
  /** The container's name within its pod (Kubernetes container name / Docker name). */
  name: string;
  /**
   * The image, read only, under the container's own rootfs: its layer directories top first
   * (overlay diffs with overlay whiteouts, stacked as the overlay's lower directories), or one
   * directory holding a whole rootfs (a record written by an older version, a test's rootfs).
   */
  imageRootfs: string | string[];
  process: ProcessSpec;
  /** Where the tether appends the container's iolog entries (created if missing). */
  logPath: string;
  /** Signal `stop` sends first, as "SIGTERM" or "15". Default SIGTERM. */
  stopSignal?: string;
  /** Hard memory limit in bytes (cgroup); none when absent. */
  memoryLimitBytes?: number;
  /** CPU limit in millicores; none when absent. */
  cpuMillis?: number;
  /** Extra annotations a backend may use (OCI annotations for runc). */
  labels?: Record<string, string>;
  /** What the container's processes (and its execs) may do; absent: Docker's defaults. */
  security?: SecuritySpec;
  /**
   * Kubernetes' terminationMessagePath: a file at this absolute path in the container, empty at
   * each start, whose first TERMINATION_MESSAGE_LIMIT bytes the exit state carries (message).
   */
  terminationMessagePath?: string;
  /** Volumes bound into the container (core/volume-mounts.ts), in order. */
  mounts?: VolumeMount[];
  /**
   * Another container of the same sandbox (its id) whose PID namespace this one joins at each
   * start (Kubernetes' targetContainerName of an ephemeral container): it must be running then.
   * Moot where the sandbox shares one PID namespace already.
   */
  pidNamespaceOf?: string;
  /**
   * The process's own stdin and terminal (Kubernetes' stdin/stdinOnce/tty, Docker's
   * OpenStdin/StdinOnce/Tty), held by the container's init so attach sessions can come and go.
   */
  stdio?: StdioSpec;
}

export interface StdioSpec {
  /** Its stdin stays open for attach sessions (else it reads /dev/null). */
  stdin?: boolean;
  /** The first attach session with stdin that ends closes it for good. */
  stdinOnce?: boolean;
  /** It runs on a terminal: its output (both streams) is logged as stdout. */
  tty?: boolean;
}

/**
 * A host directory or file bound into a container: a volume's, or a path inside it (subPath,
 * resolved at each start without following links). Mounted nosuid, nodev; read-only when asked.
 */
export interface VolumeMount {
  /** Absolute host path: the volume's root (a bind volume's host path). */
  source: string;
  /** Absolute path in the container. */
  destination: string;
  readOnly?: boolean;
  /** Relative path inside source, no `..`; created as a directory if missing. */
  subPath?: string;
}

/** lstat of a path in a container (docker cp's stat), as the kernel gives it. */
export interface PathStat {
  /** st_mode: type and permission bits. */
  mode: number;
  size: number;
  /** Modification time, Unix nanoseconds. */
  mtimeNs: bigint;
  /** For a symlink: where it leads, resolved in the container's root (or its raw target). */
  linkTarget?: string;
}

/** The most of a termination message that is kept (the kubelet's 4 KiB). */
export const TERMINATION_MESSAGE_LIMIT = 4096;

/** Docker's --read-only, --cap-add, --cap-drop and --security-opt no-new-privileges. */
export interface SecuritySpec {
  /** The container's root filesystem is read-only (/dev, /dev/shm, /proc are not its root). */
  readOnlyRootfs?: boolean;
  /**
   * Capability names, with or without CAP_, or "ALL": Docker's default set minus capDrop plus
   * capAdd (capabilities.ts). Root's processes hold exactly that set; another user's hold none
   * (as on Docker: no ambient capabilities), though it bounds what file capabilities give.
   */
  capAdd?: string[];
  capDrop?: string[];
  /** no_new_privs: setuid binaries and file capabilities grant nothing. */
  noNewPrivileges?: boolean;
  /** The seccomp filter of its processes (and execs); absent: RuntimeDefault. */
  seccomp?: SeccompSpec;
  /**
   * Docker's --privileged, Kubernetes' privileged: every capability, no seccomp filter, the
   * host's devices, /sys writable and no masked /proc paths (as runc's and containerd's
   * privileged containers). runc only: a pod VM refuses it.
   */
  privileged?: boolean;
}

/**
 * Kubernetes' seccompProfile types (Docker's --security-opt seccomp=…): RuntimeDefault is the
 * default profile Debian's containers-common ships (seccomp/container.ts), Unconfined none, and
 * Localhost a profile's JSON text, which the runtime checks.
 */
export type SeccompSpec =
  { type: 'RuntimeDefault' } | { type: 'Unconfined' } | { type: 'Localhost'; profile: string };

export interface SandboxSpec {
  /** The VCH's id for the pod: 64 lowercase hex digits. */
  id: string;
  /** The UTS hostname every container of the sandbox sees. */
  hostname: string;
  /** One PID namespace for all containers of the pod (Kubernetes shareProcessNamespace). */
  shareProcessNamespace?: boolean;
  /**
   * Kubernetes' hostNetwork, hostPID, hostIPC: the pod gets no namespace of that kind of its
   * own and lives in the runtime's (hostNetwork also the UTS one, as containerd does; no
   * network attachment). runc only: a pod VM refuses them.
   */
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  /** Namespaced sysctls of the pod (net.*, IPC ones: sysctls.ts), name → value. */
  sysctls?: Record<string, string>;
  /** For the vm backend: the VM's size. Defaults are the backend's. */
  memoryLimitBytes?: number;
  cpuMillis?: number;
  /** Which backend runs the pod, where several are on offer (router.ts); default its default. */
  runtime?: 'runc' | 'vm';
  /** Ports published on the VCH's addresses (Docker's -p), through the VCH's network. */
  ports?: PublishedPort[];
  /** The pod's resolv.conf and /etc/hosts beyond the defaults (core/etc-files.ts). */
  names?: SandboxNames;
}

/** The names a pod's containers resolve by: what goes into its resolv.conf and /etc/hosts. */
export interface SandboxNames {
  /** resolv.conf's parts; a part left out is the VCH host's (Docker's rule for --dns & co). */
  dns?: Partial<DnsConfig>;
  /** The pod's domain: /etc/hosts names the pod `hostname.domain` before `hostname`. */
  domain?: string;
  /** More /etc/hosts lines (Kubernetes' hostAliases, Docker's --add-host). */
  hostAliases?: HostAlias[];
  /** A comment line opening /etc/hosts ("# Kubernetes-managed hosts file."). */
  hostsHeader?: string;
}

export interface HostAlias {
  ip: string;
  hostnames: string[];
}

/** A port published on the host (Docker's -p HOST:CONTAINER, a pod's hostPort). */
export interface PublishedPort {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  /** The host address it is published on; all of the VCH's when absent. */
  hostIP?: string;
}

/**
 * The VCH's network, as a backend sees it: a sandbox's network namespace gets an interface and
 * an address on the VCH's bridge when the sandbox (re)starts, and loses them when it goes. The
 * VCH implements it (src/vch/network/) and hands it to the backends that can use it.
 */
export interface SandboxNetwork {
  /** Attaches the namespace at `netnsPath` (replacing an earlier attachment of the sandbox). */
  attach(sandboxId: string, netnsPath: string, ports?: PublishedPort[]): Promise<SandboxAddress>;
  /** Detaches the sandbox: address released, veth or tap and rules gone. Nothing to do is fine. */
  detach(sandboxId: string): Promise<void>;
  /**
   * For a pod VM: a tap on the bridge for its qemu, and the address its agent configures. A
   * sandbox attached before keeps its address (its VM boots again, or still runs). `ports` are
   * published to that address, as attach() does for a namespace.
   */
  attachTap?(sandboxId: string, ports?: PublishedPort[]): Promise<TapAttachment>;
}

export interface TapAttachment extends SandboxAddress {
  /** The host's tap device, on the bridge. */
  tap: string;
  mac: string;
}

export interface SandboxAddress {
  /** "10.88.0.2/16" */
  address: string;
  gateway: string;
}

export type ContainerStatus = 'created' | 'running' | 'exited';

export interface ContainerState {
  id: string;
  status: ContainerStatus;
  /** Host pid of the container's init (runc) while running. */
  pid?: number;
  /** RFC 3339 with nanoseconds, UTC, as Docker prints them. */
  startedAt?: string;
  finishedAt?: string;
  /** When exited: the process's exit code, 128+N when it died of signal N. */
  exitCode?: number;
  /**
   * When exited, why, if not a plain exit: "OOMKilled", "Killed" (SIGKILL from outside),
   * "Lost" (the container vanished while the VCH was away and left no status).
   */
  reason?: string;
  /** When exited: what it wrote to its terminationMessagePath (at most 4 KiB), if anything. */
  message?: string;
}

export interface StopOptions {
  /** Default: the container's stopSignal. */
  signal?: string;
  /** Milliseconds to wait after the signal before SIGKILL. Default 10 000, as docker stop. */
  graceMs?: number;
}

/**
 * A process to run in a running container (docker exec, kubectl exec, exec probes). It joins the
 * container's namespaces, root and cgroup, with the container's capabilities.
 */
export interface ExecSpec {
  /** argv; args[0] is looked up in PATH (from the merged env) when it has no slash. */
  args: string[];
  /** KEY=value, added to the container's environment (later wins, by key). */
  env?: string[];
  /** Absolute path in the container. Default: the container's working dir. */
  cwd?: string;
  /** As Docker's --user ("uid", "uid:gid", "name", "name:group"). Default: the container's. */
  user?: string;
}

/** The most of each stream an exec's result keeps (kubelet keeps 10 KiB of a probe's). */
export const EXEC_OUTPUT_LIMIT = 1 << 20;

export interface ExecOptions {
  /** Past this the exec'd process is killed (SIGKILL) and the result says timedOut. */
  timeoutMs?: number;
  /** Aborting kills the exec'd process (SIGKILL) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Bytes kept of each stream, at most EXEC_OUTPUT_LIMIT (the default). */
  outputLimitBytes?: number;
}

export interface ExecResult {
  /** The process's exit code, 128+N when it died of signal N (137 after a timeout). */
  exitCode: number;
  /** The first outputLimitBytes of each stream; the rest is read and dropped. */
  stdout: Buffer;
  stderr: Buffer;
  /** Which streams were cut at the limit. */
  truncated: { stdout: boolean; stderr: boolean };
  timedOut: boolean;
}

/** A terminal's size in characters. */
export interface TerminalSize {
  width: number;
  height: number;
}

/** What a streaming exec (kubectl exec -i/-t, docker exec) gets besides its spec. */
export interface ExecStreamOptions {
  /** The process reads the caller's input (ExecStream.stdin); otherwise it reads /dev/null. */
  stdin?: boolean;
  /** The process runs on a terminal: stdout carries its output and its stderr; no stderr. */
  tty?: boolean;
  /** The terminal's first size (with tty). */
  size?: TerminalSize;
}

/**
 * A process running in a container with its streams, as they flow (with backpressure: output
 * not read holds the process up, never the VCH's memory).
 */
export interface ExecStream {
  /** Ending it closes the process's input (without tty: EOF; with tty: nothing more typed). */
  stdin?: Writable;
  stdout: Readable;
  /** Absent with a tty. */
  stderr?: Readable;
  /** Resizes the terminal (no-op without one). */
  resize(size: TerminalSize): void;
  /** SIGKILLs the process (idempotent). */
  kill(): void;
  /** Its exit code (128+N for signal N; 126/127 when it could not be run), once it has ended. */
  exit: Promise<number>;
}

/**
 * One attach session to a container's own process (kubectl attach, docker attach): its input
 * and terminal. Its output is the container's log from the moment of the attach.
 */
export interface AttachSession {
  /** Bytes for the process's stdin; ending it ends the session's input (stdinOnce). */
  stdin?: Writable;
  /** Resizes the terminal (no-op without one). */
  resize(size: TerminalSize): void;
  /** Ends the session (the process runs on; with stdinOnce its stdin closes). Idempotent. */
  close(): void;
}

export interface Runtime {
  readonly name: 'runc' | 'vm';

  /** Creates the pod's sandbox (namespaces or VM). Idempotent for an existing id. */
  createSandbox(spec: SandboxSpec): Promise<void>;
  /** Removes a sandbox whose containers are all removed; Conflict if any remain. */
  removeSandbox(id: string): Promise<void>;
  /**
   * Optional (vm: powers the pod VM off): frees what a sandbox holds while none of its
   * containers runs; the next start brings it back. Conflict if a container runs.
   */
  stopSandbox?(id: string): Promise<void>;

  /** Prepares a container in a sandbox (its rootfs, bundle) without starting it. */
  createContainer(sandboxId: string, spec: ContainerSpec): Promise<void>;
  /**
   * Starts a created or exited container (an exited one starts afresh on the same rootfs,
   * appending to the same log — a restart). Resolves once its process runs.
   */
  start(id: string): Promise<void>;
  /** Signal, wait up to graceMs, then SIGKILL. Resolves when it has exited. No-op if not running. */
  stop(id: string, options?: StopOptions): Promise<ContainerState>;
  /** Sends a signal ("SIGKILL", "9", "KILL") to the container's process. Conflict if not running. */
  kill(id: string, signal: string): Promise<void>;
  /** Resolves with the state once the container is not running (at once if it is not). */
  wait(id: string, abort?: AbortSignal): Promise<ContainerState>;
  /** Removes a container that is not running (rootfs, bundle); its log stays with the VCH. */
  remove(id: string): Promise<void>;
  state(id: string): Promise<ContainerState>;
  /**
   * Runs a process in a running container and resolves with its exit code and output once it
   * has exited. NotFound: no such container; Conflict: it is not running; InvalidInput: empty
   * args, a relative cwd, an unknown user or group. A program that cannot be run resolves with
   * 126 (127: not found) and the reason on stderr, as a shell would.
   */
  exec(id: string, spec: ExecSpec, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Starts a process in a running container with streams (stdin, a terminal) rather than
   * captured output; the same checks and errors as exec. NotImplemented: the backend cannot.
   */
  execStream(id: string, spec: ExecSpec, options: ExecStreamOptions): Promise<ExecStream>;
  /**
   * Optional: attaches to a running container created with `stdio` (stdin and/or a terminal).
   * NotFound: no such container; Conflict: it does not run, or has neither stdin nor a
   * terminal (InvalidInput for `stdin` when it has no stdin).
   */
  attach?(id: string, options: { stdin: boolean }): Promise<AttachSession>;

  /**
   * After a VCH restart: finds the sandboxes and containers on disk, re-attaches to the running
   * ones and settles the rest as exited (reason "Lost" when they left no exit status).
   */
  recover(): Promise<{ sandboxes: string[]; containers: ContainerState[] }>;

  /**
   * Optional: the container's usage now (stats/): CPU, memory and processes from its cgroup
   * while it runs, and its writable layer. NotFound: no such container.
   */
  stats?(id: string): Promise<ContainerSample>;
  /** Optional: the sandbox's network counters; no interfaces when it has none (or is down). */
  sandboxStats?(id: string): Promise<SandboxUsage>;

  /**
   * Optional: the host pids of a running container's processes (docker top). Conflict: it is
   * not running; NotFound: no such container.
   */
  processes?(id: string): Promise<number[]>;
  /**
   * Optional (docker cp, the persona's archive endpoints): in a running container, resolved in
   * its own root and mounts — a symlink of the container's never leads out to the host. lstat of
   * a path; NotFound: no such path; Conflict: the container does not run.
   */
  statPath?(id: string, path: string): Promise<PathStat>;
  /** Optional: a tar of a path of a running container (its last element not followed). */
  getArchive?(id: string, path: string): Promise<Readable>;
  /**
   * Optional: extracts a tar into a directory of a running container; InvalidInput: not a
   * directory, or a bad archive. `keepOwner`: the archive's owners (else root's).
   */
  putArchive?(id: string, dir: string, tar: Readable, keepOwner: boolean): Promise<void>;
  /**
   * Optional: a TCP connection to `port` on the sandbox's own loopback, made inside the pod
   * (kubectl port-forward): resolves once connected. Conflict: the sandbox does not run;
   * Unavailable: nothing listens there (the reason in the message); NotFound: no such sandbox.
   */
  portForward?(sandboxId: string, port: number): Promise<Duplex>;
  /**
   * Optional: resolves once an attachment of the sandbox to the VCH's network that is under
   * way has ended, either way (a backend may attach beside other work); at once otherwise. For
   * those who read the sandbox's address. Never rejects.
   */
  networkSettled?(sandboxId: string): Promise<void>;

  /** Stops watching containers (they keep running); called when the VCH shuts down. */
  close(): Promise<void>;
}
