// Launching a pod VM: qemu's microvm machine (no PCI, no firmware to speak of: the fastest boot),
// the guest's kernel and initramfs, one virtio-9p share holding every container's rootfs and
// status directory, a virtio-serial bus carrying the control port and the data port (unix
// sockets: the data port carries interactive execs' streams and port-forwards) and, added
// while it runs, one port per container whose chardev appends to the container's output.log.
// qemu runs detached with a pid file, so it outlives the VCH; a new VCH finds it by that file and
// reconnects to its sockets. qemu itself runs as an unprivileged uid of the VM's own with the
// four file capabilities its 9p server needs (tether/vm-jail.c, which also refuses it setuid and
// setgid bits), under its own seccomp sandbox as well.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { unavailable } from '../errors.js';

export type Accel = 'kvm' | 'tcg';

export interface VmPaths {
  /** qemu's working directory: the sockets' names are relative to it. */
  cwd: string;
  pidFile: string;
  controlSocket: string;
  dataSocket: string;
  qmpSocket: string;
  consoleLog: string;
  /** qemu's own messages (its stderr). */
  stderrLog: string;
  /** The directory shared as 9p tag "vic.containers". */
  share: string;
}

export interface VmLaunch {
  name: string;
  kernel: string;
  initramfs: string;
  accel: Accel;
  memoryMiB: number;
  cpus: number;
  paths: VmPaths;
  /** TCG only: the guest cannot measure its TSC against anything on microvm; told instead. */
  tscKhz?: number;
  /** The pod's sysctls: the kernel sets them at boot (`sysctl.NAME="VALUE"`, Linux ≥ 5.8). */
  sysctls?: Record<string, string>;
  /** The pod's interface on the VCH's bridge; absent, the VM has loopback only. */
  net?: VmNet;
  /** qemu started through vm-jail (tether/vm-jail.c) as this uid; absent, as root. */
  jail?: QemuJail;
}

/** vm-jail: qemu as an unprivileged uid of the VM's own, with the 9p server's capabilities. */
export interface QemuJail {
  path: string;
  uid: number;
  gid: number;
}

/** A pod VM's place on the VCH's bridge: the tap qemu opens, and what the agent configures. */
export interface VmNet {
  /** The host's tap device (already on the bridge). */
  tap: string;
  mac: string;
  /** "10.88.0.5/16" */
  address: string;
  gateway: string;
}

export const CONTROL_PORT = 'vic.control';
export const DATA_PORT = 'vic.data';
export const SHARE_TAG = 'vic.containers';
/** The virtio-serial bus added ports hang off. */
export const SERIAL_BUS = 'vser0.0';

/** Whether KVM can run guests here: /dev/kvm opens read-write and the CPU has VMX or SVM. */
export function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    // A nested guest may have /dev/kvm without the CPU extensions (qemu then hangs at boot).
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/** The host's TSC rate, which the guest's TSC runs at under TCG (qemu reads the host's). */
export function hostTscKhz(): number {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(text)?.[1]);
    if (mhz > 100) return Math.round(mhz * 1000);
  } catch {
    // below
  }
  return 2_000_000;
}

/** The VM's size from the pod's limits: MiB of memory and vCPUs, with floors and the host's cap. */
export function vmSize(
  memoryLimitBytes?: number,
  cpuMillis?: number,
): { memoryMiB: number; cpus: number } {
  const memoryMiB = memoryLimitBytes
    ? Math.max(128, Math.ceil(memoryLimitBytes / (1 << 20)) + 64) // + the guest kernel's share
    : 256;
  const cpus = cpuMillis
    ? Math.min(availableParallelism(), Math.max(1, Math.ceil(cpuMillis / 1000)))
    : 1;
  return { memoryMiB, cpus };
}

/** The kernel command line: every option here saves boot time under TCG or is needed. */
export function kernelCmdline(l: Pick<VmLaunch, 'accel' | 'tscKhz' | 'sysctls' | 'net'>): string {
  const args = [
    'console=ttyS0',
    'panic=-1', // a dead agent powers the VM off (with -no-reboot) instead of hanging
    'quiet',
    'rodata=off', // skips write-protecting and checking the kernel's mappings
    // Speculation mitigations stay on: the guest runs a hostile pod's code, and its kernel is
    // what keeps that code from the pod's other containers.
    'nokaslr',
    'audit=0',
    'lsm=',
    'cryptomgr.notests', // the crypto self-tests take most of a second under TCG
    // Initcalls of no use in a pod VM (a KDF self-test, tracing, BPF maps, the key rings of
    // module signatures we strip) that cost tenths of a second each under TCG.
    'initcall_blacklist=crypto_kdf108_init,init_kprobe_trace,load_system_certificate_list,machine_keyring_init,btf_vmlinux_init,dev_map_init',
    'i8042.noaux',
    'i8042.nokbd',
  ];
  if (l.accel === 'tcg') {
    // Without a TSC rate the kernel calibrates against a PIT it does not get on microvm, and on
    // a busy host can hang there.
    const khz = l.tscKhz ?? 2_000_000;
    args.push(`tsc_early_khz=${khz}`, `lpj=${Math.round(khz / 1000) * 1000}`, 'tsc=reliable');
  }
  // Names and values were checked (sysctls.ts): no quote, no control character.
  for (const [name, value] of Object.entries(l.sysctls ?? {}))
    args.push(`sysctl.${name}="${value}"`);
  // For the agent (agent-net.c): eth0's address and the default route. The VCH chose them.
  if (l.net) args.push(`vic.net=${l.net.address},${l.net.gateway}`);
  return args.join(' ');
}

/** MiB of TCG's translation buffer per VM. */
export const TCG_TB_MIB = 8;

/** qemu-system-x86_64's arguments for a pod VM. */
export function qemuArgs(l: VmLaunch): string[] {
  const p = l.paths;
  // qemu's option syntax uses ',' as separator (',,' escapes it).
  const q = (s: string) => s.replace(/,/g, ',,');
  return [
    '-name',
    q(l.name),
    '-M',
    'microvm,x-option-roms=off,rtc=on',
    '-accel',
    // TCG's translated code: its buffer (1 GiB by default) fills as the guest runs new code, and
    // every byte of it stays resident: some 40 MiB per VM once booted. 8 MiB holds what a
    // booted guest keeps running; what no longer fits is flushed and translated again (no
    // slower boot measured).
    l.accel === 'tcg' ? `tcg,tb-size=${TCG_TB_MIB}` : l.accel,
    ...(l.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-m',
    String(l.memoryMiB),
    '-smp',
    String(l.cpus),
    '-nodefaults',
    '-no-user-config',
    // qemu's own seccomp filter: no obsolete calls, no setuid/setgid/capset, no fork or exec, no
    // scheduler or resource changes — what a guest that took over qemu could reach for first.
    // (These deny the fork and setsid of -daemonize: qemu runs in the foreground, in a session
    // of its own that launchQemu gives it, and outlives the VCH all the same.)
    '-sandbox',
    'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-display',
    'none',
    '-no-reboot',
    '-kernel',
    l.kernel,
    '-initrd',
    l.initramfs,
    '-append',
    kernelCmdline(l),
    '-serial',
    `file:${q(p.consoleLog)}`,
    '-qmp',
    `unix:${q(p.qmpSocket)},server=on,wait=off`,
    '-fsdev',
    `local,id=share,path=${q(p.share)},security_model=passthrough,multidevs=remap`,
    '-device',
    `virtio-9p-device,fsdev=share,mount_tag=${SHARE_TAG}`,
    '-device',
    'virtio-serial-device,id=vser0,max_ports=64',
    '-chardev',
    `socket,id=control,path=${q(p.controlSocket)},server=on,wait=off`,
    '-device',
    `virtserialport,bus=${SERIAL_BUS},chardev=control,name=${CONTROL_PORT}`,
    '-chardev',
    `socket,id=data,path=${q(p.dataSocket)},server=on,wait=off`,
    '-device',
    `virtserialport,bus=${SERIAL_BUS},chardev=data,name=${DATA_PORT}`,
    ...(l.net
      ? [
          // The tap exists and is on the bridge (the VCH made it): qemu only opens it, and runs
          // no script (its sandbox denies spawning one anyway). Under vm-jail, which opened it
          // as root, qemu gets it as fd 3 (attaching to a tap by name needs CAP_NET_ADMIN).
          '-netdev',
          l.jail
            ? 'tap,id=net0,fd=3'
            : `tap,id=net0,ifname=${q(l.net.tap)},script=no,downscript=no`,
          '-device',
          `virtio-net-device,netdev=net0,mac=${l.net.mac}`,
        ]
      : []),
    '-pidfile',
    p.pidFile,
  ];
}

/** The pod VMs' scheduling priority below the VCH's (nice(1) steps). */
const VM_NICE = 10;

/**
 * The command that starts qemu: through nice(1) — the VM's threads (a hostile guest can keep
 * its vCPUs busy, and under TCG each is a host core's worth of work) yield to the VCH, which
 * must keep answering — and vm-jail when the launch has one.
 */
export function launchCommand(l: VmLaunch, qemu: string): string[] {
  const jail = l.jail
    ? [
        l.jail.path,
        String(l.jail.uid),
        String(l.jail.gid),
        ...(l.net ? ['--tap', l.net.tap] : []),
        '--',
      ]
    : [];
  return ['nice', '-n', String(VM_NICE), ...jail, qemu, ...qemuArgs(l)];
}

/** How long qemu may take to set up its sockets (it starts in well under a second). */
const LAUNCH_TIMEOUT_MS = 30_000;

/**
 * Starts qemu in a session of its own (detached: it outlives the VCH, which finds it again by
 * its pid file) and resolves with its pid once its pid file and sockets exist — the point at
 * which -daemonize would have returned, without the fork and setsid the sandbox denies. qemu's
 * own complaints (a bad option, no KVM) go to `stderrLog` and come back as one Unavailable
 * error if it exits first.
 */
export function launchQemu(l: VmLaunch, qemu = 'qemu-system-x86_64'): Promise<number> {
  const p = l.paths;
  const ready = () =>
    [
      p.pidFile,
      join(p.cwd, p.controlSocket),
      join(p.cwd, p.dataSocket),
      join(p.cwd, p.qmpSocket),
    ].every((f) => existsSync(f));
  if (l.jail && !existsSync(l.jail.path))
    return Promise.reject(unavailable(`no vm-jail at ${l.jail.path}: run npm run build`));
  return new Promise((resolve, reject) => {
    const err = openSync(p.stderrLog, 'w', 0o600);
    let child: ChildProcess;
    try {
      const [cmd, ...args] = launchCommand(l, qemu);
      child = spawn(cmd, args, {
        cwd: p.cwd,
        detached: true,
        stdio: ['ignore', 'ignore', err],
      });
    } finally {
      closeSync(err);
    }
    let settled = false;
    const finish = (e?: Error) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      child.off('exit', onExit);
      if (e) reject(e);
      else {
        child.unref();
        resolve(child.pid!);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      // 127: nice(1) (or vm-jail) found no such program.
      const why =
        code === 127
          ? `${qemu} not found: install Debian's qemu-system-x86`
          : (lastLine(p.stderrLog) ?? (signal ? `killed by ${signal}` : `exit status ${code}`));
      finish(unavailable(`qemu could not start the pod VM: ${why}`));
    };
    child.on('exit', onExit);
    child.on('error', (e: NodeJS.ErrnoException) =>
      finish(
        unavailable(
          e.code === 'ENOENT' ? `${qemu} not found: install Debian's qemu-system-x86` : e.message,
          e,
        ),
      ),
    );
    const started = Date.now();
    const poll = setInterval(() => {
      if (ready()) finish();
      else if (Date.now() - started > LAUNCH_TIMEOUT_MS) {
        child.kill('SIGKILL');
        finish(unavailable(`qemu did not set up its sockets in ${LAUNCH_TIMEOUT_MS / 1000} s`));
      }
    }, 10);
  });
}

function lastLine(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).pop();
  } catch {
    return undefined;
  }
}
