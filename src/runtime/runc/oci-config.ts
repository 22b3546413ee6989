// The OCI runtime spec documents (bundle config.json) for a sandbox's pause process and for a
// container. Pure functions of their inputs: unit-tested without runc.
import type { LogRotation } from '../log-rotation.js';
import { ociSeccomp, type ResolvedProfile } from '../seccomp/profile.js';
import type { ExecProcess } from '../core/exec.js';
import { CAP_NAMES, capMask, containerCaps } from '../capabilities.js';
import type { HostDevice } from './host-devices.js';
import type { ProcessSpec, SecuritySpec, StdioSpec } from '../runtime.js';
import type { ResolvedUser } from '../user.js';
import { containerCgroupPath } from './stats.js';

/** Where the tether appears inside every container (read-only). */
export const TETHER_IN_CONTAINER = '/.vic/tether';
/**
 * The fds runc passes to the container's init (runc --preserve-fds 2): the log, and the status
 * file the tether appends its started/exited records to. Neither is in the container's
 * filesystem; the tether closes both on exec of the process and is not dumpable, so the
 * process cannot reach them through /proc either.
 */
export const LOG_FD = 3;
export const STATUS_FD = 4;
/** The directory of the log, for the tether's rotation (tether/iolog-out.c). */
export const LOG_DIR_FD = 5;
/** The listening socket the tether takes execs on (tether/exec-server.h): the fd after the rest. */
export const execFd = (rotated: boolean) => (rotated ? LOG_DIR_FD + 1 : LOG_DIR_FD);
/** The listening socket for attach sessions (tether/attach-server.h): after the exec socket. */
export const attachFd = (rotated: boolean) => execFd(rotated) + 1;

/** OCI capability names: CAP_ and the name. */
const oci = (caps: string[]) => caps.map((c) => `CAP_${c}`);

/**
 * The tether's own capabilities: the container's, and what it needs to drop to them and to the
 * container's user (SETPCAP for the bounding set, SETUID, SETGID). It hands the process only
 * the container's (tether --caps).
 */
function tetherCaps(caps: string[]): string[] {
  return CAP_NAMES.filter((c) => caps.includes(c) || ['SETGID', 'SETUID', 'SETPCAP'].includes(c));
}

// As runc spec and Docker: kernel interfaces a container must not read or change.
const MASKED = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface Mount {
  destination: string;
  type?: string;
  source: string;
  options?: string[];
}

const bind = (source: string, destination: string, ro: boolean): Mount => ({
  destination,
  type: 'bind',
  source,
  options: ['rbind', 'rprivate', ro ? 'ro' : 'rw', 'nosuid', 'nodev'],
});

function baseMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
  ];
}

export interface SandboxConfigInput {
  id: string;
  hostname: string;
  rootfs: string;
  tether: string;
  /** The pod's sysctls, set by runc in the pause's new namespaces, which containers join. */
  sysctls?: Record<string, string>;
  /** Namespaces the pod shares with the host (the runtime's): none of its own of that kind. */
  host?: { network?: boolean; pid?: boolean; ipc?: boolean };
}

/**
 * The pause process: holds the pod's network, IPC, UTS (and maybe PID) namespaces — those the
 * pod does not share with the host. hostNetwork shares the UTS one too (containerd's rule): the
 * pod has the node's hostname then.
 */
export function sandboxConfig(s: SandboxConfigInput): object {
  const shared = new Set<string>();
  if (s.host?.network) shared.add('network').add('uts');
  if (s.host?.pid) shared.add('pid');
  if (s.host?.ipc) shared.add('ipc');
  const namespaces = ['pid', 'network', 'ipc', 'uts', 'mount'].filter((t) => !shared.has(t));
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [TETHER_IN_CONTAINER, '--pause'],
      env: ['PATH=/'],
      cwd: '/',
      capabilities: { bounding: [], effective: [], permitted: [] },
      noNewPrivileges: true,
    },
    root: { path: s.rootfs, readonly: true },
    // (runc sets a hostname only in a UTS namespace of the container's own)
    ...(!shared.has('uts') && { hostname: s.hostname }),
    mounts: [...baseMounts(), bind(s.tether, TETHER_IN_CONTAINER, true)],
    linux: {
      namespaces: namespaces.map((type) => ({ type })),
      cgroupsPath: `/vic-kubelet/pod-${s.id}`,
      ...(s.sysctls && Object.keys(s.sysctls).length > 0 && { sysctl: s.sysctls }),
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      maskedPaths: MASKED,
      readonlyPaths: READONLY,
    },
  };
}

export interface ContainerConfigInput {
  id: string;
  rootfs: string;
  process: ProcessSpec;
  user: ResolvedUser;
  tether: string;
  /** The sandbox's pause process (host pid) whose namespaces the container joins. */
  pausePid: number;
  sharePid: boolean;
  /** The host pid of another container's init whose PID namespace this one joins. */
  targetPid?: number;
  sandbox: { shm: string; hostname: string; hosts: string; resolvConf: string };
  memoryLimitBytes?: number;
  cpuMillis?: number;
  labels?: Record<string, string>;
  security?: SecuritySpec;
  /** Its seccomp filter (runc's execs get it too); none: Unconfined. */
  seccomp?: ResolvedProfile;
  /** A host file mounted at the container's terminationMessagePath. */
  terminationLog?: { source: string; destination: string };
  /** The log's rotation: the tether renames in the directory handed in as LOG_DIR_FD. */
  logRotation?: LogRotation & { name: string };
  /** Volumes, already bound on the host (core/volume-mounts.ts): bound in after the rest. */
  volumes?: { source: string; destination: string; readOnly: boolean }[];
  /** The tether takes execs on a listening socket handed in as execFd (tether-exec.ts). */
  execServer?: boolean;
  /** A privileged container's device nodes: the host's (host-devices.ts). */
  devices?: HostDevice[];
  /**
   * The process's own stdin and terminal, held by the tether for attach sessions on a
   * listening socket handed in as attachFd (tether-attach.ts); needs execServer.
   */
  stdio?: StdioSpec;
}

/** The tether's flags for a container's own stdin and terminal: none without either. */
export function stdioArgs(io: StdioSpec | undefined, fd: number): string[] {
  if (!io?.stdin && !io?.tty) return [];
  return [
    ...(io.stdin ? ['--stdin'] : []),
    ...(io.stdin && io.stdinOnce ? ['--stdin-once'] : []),
    ...(io.tty ? ['--tty'] : []),
    '--attach-fd',
    String(fd),
  ];
}

export function containerConfig(c: ContainerConfigInput): object {
  const sec = c.security ?? {};
  const privileged = sec.privileged === true;
  const caps = containerCaps(sec);
  const own = oci(tetherCaps(caps));
  const env = [...c.process.env];
  if (!env.some((kv) => kv.startsWith('HOME='))) env.push(`HOME=${c.user.home}`);
  const ns = (type: string, name: string) => ({ type, path: `/proc/${c.pausePid}/ns/${name}` });
  // Privileged, as runc's and containerd's: every device of the host's, any access.
  const resources: Record<string, unknown> = {
    devices: [{ allow: privileged, access: 'rwm' }],
  };
  if (c.memoryLimitBytes !== undefined) resources.memory = { limit: c.memoryLimitBytes };
  if (c.cpuMillis !== undefined) {
    // As Docker's --cpus: quota per 100 ms period; the kernel's minimum quota is 1 ms.
    resources.cpu = { period: 100_000, quota: Math.max(1000, Math.round(c.cpuMillis * 100)) };
  }
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      // The tether stays root and drops to the container's user for the process alone.
      user: { uid: 0, gid: 0 },
      args: [
        TETHER_IN_CONTAINER,
        '--log-fd',
        String(LOG_FD),
        '--status-fd',
        String(STATUS_FD),
        '--user',
        [c.user.uid, c.user.gid, c.user.additionalGids.join(',')].join(':'),
        '--caps',
        capMask(caps),
        ...(sec.noNewPrivileges ? ['--no-new-privs'] : []),
        ...(c.logRotation
          ? [
              '--log-dir-fd',
              String(LOG_DIR_FD),
              '--log-name',
              c.logRotation.name,
              '--log-max-size',
              String(c.logRotation.maxSize),
              '--log-max-files',
              String(c.logRotation.maxFiles),
            ]
          : []),
        ...(c.execServer ? ['--exec-fd', String(execFd(!!c.logRotation))] : []),
        ...stdioArgs(c.stdio, attachFd(!!c.logRotation)),
        '--',
        ...c.process.args,
      ],
      env,
      cwd: c.process.cwd,
      capabilities: { bounding: own, effective: own, permitted: own },
      noNewPrivileges: sec.noNewPrivileges === true,
    },
    root: { path: c.rootfs, readonly: sec.readOnlyRootfs === true },
    mounts: [
      ...baseMounts(),
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      // The pod's /dev/shm: one tmpfs for all its containers, as they share IPC.
      {
        destination: '/dev/shm',
        type: 'bind',
        source: c.sandbox.shm,
        options: ['rbind', 'rprivate', 'rw', 'nosuid', 'nodev', 'noexec'],
      },
      {
        destination: '/dev/mqueue',
        type: 'mqueue',
        source: 'mqueue',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      {
        destination: '/sys',
        type: 'sysfs',
        source: 'sysfs',
        // Writable only to a privileged container (as containerd mounts it).
        options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'],
      },
      bind(c.sandbox.hostname, '/etc/hostname', false),
      bind(c.sandbox.hosts, '/etc/hosts', false),
      bind(c.sandbox.resolvConf, '/etc/resolv.conf', false),
      bind(c.tether, TETHER_IN_CONTAINER, true),
      ...(c.volumes ?? []).map((v) => bind(v.source, v.destination, v.readOnly)),
      // After the volumes, as the kubelet orders it: the path may lie in one.
      ...(c.terminationLog
        ? [bind(c.terminationLog.source, c.terminationLog.destination, false)]
        : []),
    ],
    annotations: c.labels ?? {},
    linux: {
      namespaces: [
        { type: 'mount' },
        c.sharePid
          ? ns('pid', 'pid')
          : c.targetPid !== undefined
            ? { type: 'pid', path: `/proc/${c.targetPid}/ns/pid` }
            : { type: 'pid' },
        ns('network', 'net'),
        ns('ipc', 'ipc'),
        ns('uts', 'uts'),
      ],
      cgroupsPath: containerCgroupPath(c.id),
      resources,
      ...(privileged && c.devices?.length && { devices: c.devices }),
      // A privileged container sees /proc and /sys whole, as on containerd.
      maskedPaths: privileged ? [] : MASKED,
      readonlyPaths: privileged ? [] : READONLY,
      ...(c.seccomp && { seccomp: ociSeccomp(c.seccomp) }),
    },
  };
}

/**
 * `runc exec --process`: an exec's process as the container's own runs. The tether starts the
 * container's process as root with the container's capabilities as its bounding set and drops
 * to its user, which clears the effective and permitted sets of a non-root user (the bounding
 * set stays): the same here.
 */
export function execProcessConfig(
  p: ExecProcess,
  security: SecuritySpec = {},
  terminal = false,
): object {
  const bounding = oci(containerCaps(security));
  const caps = p.user.uid === 0 ? bounding : [];
  return {
    terminal,
    user: { uid: p.user.uid, gid: p.user.gid, additionalGids: p.user.additionalGids },
    args: p.args,
    env: p.env,
    cwd: p.cwd,
    capabilities: { bounding, effective: caps, permitted: caps },
    noNewPrivileges: security.noNewPrivileges === true,
  };
}
