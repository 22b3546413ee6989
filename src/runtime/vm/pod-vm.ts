// One pod VM as the host sees it: its qemu process (launched by this VCH or found running by a
// later one), the QMP and control connections to it, the log ports it has, and its end. What
// its containers do is the runtime's business (vm-runtime.ts); this knows the machine.
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { unavailable } from '../errors.js';
import { writeJsonAtomic } from '../core/files.js';
import { identify, isAlive, type ProcessIdentity } from '../core/proc.js';
import type { SandboxSpec } from '../runtime.js';
import { ControlChannel, type AgentMessage } from './control.js';
import { DataMux } from './data-mux.js';
import type { Guest } from './guest-build.js';
import type { VmLayout } from './layout.js';
import { checkSysctls } from '../sysctls.js';
import { Qmp } from './qmp.js';
import { hostTscKhz, launchQemu, SERIAL_BUS, type Accel, type VmNet } from './qemu.js';

/** What is kept on disk of a sandbox (sandbox.json). */
export interface SandboxRecord {
  id: string;
  spec: SandboxSpec;
  accel: Accel;
  memoryMiB: number;
  cpus: number;
  qemu?: ProcessIdentity;
  kernelVersion?: string;
  bootMs?: number;
  /** Its place on the VCH's bridge (a tap, the address); absent, loopback only. */
  net?: VmNet;
  /** The uid (and gid) its qemu runs as under vm-jail; absent, root (an older VCH's VM). */
  qemuUid?: number;
}

export interface PodVmHooks {
  log: Logger;
  layout: VmLayout;
  bootTimeoutMs: number;
  qemuPath?: string;
  /** vm-jail's path; absent, qemu runs as root. */
  jailPath?: string;
  guest: () => Promise<Guest>;
  /** The log ports the VM must have: its containers' ids and log paths. */
  ports: () => { id: string; logPath: string }[];
  onMessage: (m: AgentMessage) => void;
  /** The VM is no more (after gone was set): the runtime settles its containers. */
  onGone: () => Promise<void>;
  onBoot?: (boot: { sandboxId: string; ms: number; accel: Accel }) => void;
  /** Whether the runtime has been closed (then a closed connection is no news). */
  closed: () => boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PodVm {
  control?: ControlChannel;
  /** The data port (interactive execs, port-forwards); absent for a qemu started without it. */
  data?: DataMux;
  private qmp?: Qmp;
  /** Resolves once the agent has said hello on the current connection. */
  ready?: Promise<void>;
  /** While the VM is being launched or re-attached. */
  attaching?: Promise<void>;
  /** Containers whose log port this qemu has. */
  private ports = new Set<string>();
  gone: boolean;
  /** Set while it is powered off on purpose: its going away is no news. */
  private poweringOff = false;

  constructor(
    readonly rec: SandboxRecord,
    private readonly hooks: PodVmHooks,
  ) {
    this.gone = !(rec.qemu && isAlive(rec.qemu));
  }

  private get dirs() {
    return this.hooks.layout.sandbox(this.rec.id);
  }

  /** Boots the VM; resolves once qemu runs and answers on its sockets (ready: the agent). */
  async launch(): Promise<void> {
    const t0 = Date.now();
    const guest = await this.hooks.guest();
    const dirs = this.dirs;
    await mkdir(dirs.share, { recursive: true });
    for (const f of [dirs.pidFile, dirs.controlSocketName, dirs.dataSocketName, dirs.qmpSocketName])
      await rm(join(dirs.dir, f), { force: true });
    const pid = await launchQemu(
      {
        name: `vic-pod-${this.rec.id.slice(0, 12)}`,
        kernel: guest.kernel,
        initramfs: guest.initramfs,
        accel: this.rec.accel,
        memoryMiB: this.rec.memoryMiB,
        cpus: this.rec.cpus,
        tscKhz: this.rec.accel === 'tcg' ? hostTscKhz() : undefined,
        sysctls: checkSysctls(this.rec.spec.sysctls),
        ...(this.rec.net && { net: this.rec.net }),
        ...(this.hooks.jailPath &&
          this.rec.qemuUid !== undefined && {
            jail: { path: this.hooks.jailPath, uid: this.rec.qemuUid, gid: this.rec.qemuUid },
          }),
        paths: {
          cwd: dirs.dir,
          pidFile: dirs.pidFile,
          controlSocket: dirs.controlSocketName,
          dataSocket: dirs.dataSocketName,
          qmpSocket: dirs.qmpSocketName,
          consoleLog: dirs.consoleLog,
          stderrLog: dirs.qemuLog,
          share: dirs.share,
        },
      },
      this.hooks.qemuPath,
    );
    const qemu = identify(pid);
    if (!qemu) throw unavailable(`qemu exited at once (see ${dirs.consoleLog})`);
    this.rec.qemu = qemu;
    this.rec.kernelVersion = guest.kernelVersion;
    this.gone = false;
    this.poweringOff = false;
    this.ports = new Set();
    await writeJsonAtomic(dirs.record, this.rec);
    this.hooks.log.info(
      {
        sandbox: this.rec.id,
        pid,
        accel: this.rec.accel,
        memoryMiB: this.rec.memoryMiB,
        cpus: this.rec.cpus,
        uid: this.hooks.jailPath ? this.rec.qemuUid : 0,
      },
      'pod VM launched',
    );
    try {
      await this.attach(t0);
    } catch (e) {
      // Sockets that do not answer: this qemu is of no use.
      await this.kill();
      throw e;
    }
  }

  /**
   * Connects to the running VM's QMP and control sockets, adds the log ports it lacks, and
   * greets the agent (ready). `bootStart`: time the boot from there.
   */
  async attach(bootStart?: number): Promise<void> {
    const dirs = this.dirs;
    const work = (async () => {
      this.qmp?.close();
      this.control?.close();
      this.data?.close();
      const qmp = await inDir(dirs.dir, dirs.qmpSocketName, (p) => Qmp.connect(p));
      this.qmp = qmp;
      const control = await inDir(dirs.dir, dirs.controlSocketName, (p) =>
        ControlChannel.connect(p),
      );
      this.control = control;
      control.on('message', (m: AgentMessage) => this.hooks.onMessage(m));
      control.on('close', () => void this.onControlClosed(control));
      // A qemu launched by a VCH from before the data port has none: no interactive exec there.
      this.data = await inDir(dirs.dir, dirs.dataSocketName, (p) => DataMux.connect(p)).catch(
        (e: Error) => {
          this.hooks.log.warn({ sandbox: this.rec.id, err: e.message }, 'pod VM has no data port');
          return undefined;
        },
      );
      if (this.data) this.data.log = (msg) => this.hooks.log.warn({ sandbox: this.rec.id }, msg);
      // The ports this qemu has already (after a VCH restart): chardevs are named log-<id>.
      const chardevs = (await qmp.execute('query-chardev')) as { label: string }[];
      this.ports = new Set(
        chardevs.filter((c) => c.label.startsWith('log-')).map((c) => c.label.slice(4)),
      );
      for (const p of this.hooks.ports()) await this.addPort(p.id, p.logPath);
      const hello = control.next(
        (m): m is Extract<AgentMessage, { type: 'hello' }> => m.type === 'hello',
        bootStart !== undefined ? this.hooks.bootTimeoutMs : 10_000,
        "the agent's hello",
      );
      control.send(['hello', (BigInt(Date.now()) * 1_000_000n).toString(), this.rec.spec.hostname]);
      this.ready = hello.then(
        async (h) => {
          // What happened while no host listened (the agent drops news then): it tells again.
          if (!control.isClosed) control.send(['status']);
          if (bootStart === undefined) return;
          const ms = Date.now() - bootStart;
          this.rec.bootMs = ms;
          await writeJsonAtomic(dirs.record, this.rec).catch(() => undefined);
          this.hooks.log.info(
            { sandbox: this.rec.id, bootMs: ms, accel: this.rec.accel, kernel: h.release },
            'pod VM booted',
          );
          this.hooks.onBoot?.({ sandboxId: this.rec.id, ms, accel: this.rec.accel });
        },
        async (e: Error) => {
          const tail = await consoleTail(dirs.consoleLog);
          // A VM that did not boot is of no use: it goes, and the next start boots a new one.
          if (bootStart !== undefined && this.alive()) {
            this.hooks.log.error({ sandbox: this.rec.id, err: e.message }, 'pod VM did not boot');
            await this.kill();
          }
          throw unavailable(`${e.message}${tail}`);
        },
      );
      this.ready.catch(() => undefined); // awaited by start; nobody else must see it unhandled
    })();
    this.attaching = work.catch(() => undefined);
    await work;
  }

  /** Whether its qemu still runs. */
  alive(): boolean {
    return this.rec.qemu !== undefined && isAlive(this.rec.qemu);
  }

  /** Sends a request to the agent. Unavailable when there is no connection. */
  send(tokens: (string | number)[]): void {
    if (this.gone || !this.control || this.control.isClosed)
      throw unavailable('the pod VM is not running');
    this.control.send(tokens);
  }

  /** Adds the container's log port: a file chardev appending to its output.log. */
  async addPort(id: string, logPath: string): Promise<void> {
    if (this.ports.has(id) || !this.qmp) return;
    await this.qmp.execute('chardev-add', {
      id: `log-${id}`,
      backend: { type: 'file', data: { out: logPath, append: true } },
    });
    await this.qmp.execute('device_add', {
      driver: 'virtserialport',
      bus: SERIAL_BUS,
      chardev: `log-${id}`,
      name: `vic.log.${id}`,
      id: `port-${id}`,
    });
    this.ports.add(id);
  }

  /**
   * Puts a fresh file behind the container's log port (QMP chardev-change: the guest keeps its
   * port). False when this qemu cannot swap the chardev of a port in use.
   */
  async changePortFile(id: string, logPath: string): Promise<boolean> {
    if (this.gone || !this.ports.has(id) || !this.qmp) return false;
    return this.qmp
      .execute('chardev-change', {
        id: `log-${id}`,
        backend: { type: 'file', data: { out: logPath, append: true } },
      })
      .then(
        () => true,
        () => false,
      );
  }

  async removePort(id: string): Promise<void> {
    if (this.gone || !this.ports.has(id) || !this.qmp) return;
    // The agent closes its end first (and frees the container's slot).
    if (this.control && !this.control.isClosed) this.control.send(['forget', id]);
    await this.qmp.execute('device_del', { id: `port-${id}` }).catch(() => undefined);
    // The port lets go of its chardev once the guest has seen it unplugged.
    for (let i = 0; i < 50; i++) {
      const ok = await this.qmp.execute('chardev-remove', { id: `log-${id}` }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await sleep(50);
    }
    this.ports.delete(id);
  }

  /** Powers the VM off: the agent's poweroff, then qemu's quit, then SIGKILL. */
  async powerOff(): Promise<void> {
    const q = this.rec.qemu;
    if (!q || !isAlive(q)) return this.markGone();
    this.poweringOff = true;
    try {
      this.control?.send(['poweroff']);
    } catch {
      // no channel: qemu's quit below
    }
    if (!(await waitDead(q, 5_000))) {
      await this.qmp?.execute('quit').catch(() => undefined);
      if (!(await waitDead(q, 3_000))) {
        try {
          process.kill(q.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
        if (!(await waitDead(q, 5_000))) throw unavailable(`qemu ${q.pid} does not exit`);
      }
    }
    this.hooks.log.info({ sandbox: this.rec.id }, 'pod VM powered off');
    await this.markGone();
  }

  /** SIGKILLs qemu and marks the VM gone. */
  private async kill(): Promise<void> {
    const q = this.rec.qemu;
    if (q && isAlive(q)) {
      try {
        process.kill(q.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      await waitDead(q, 5000);
    }
    await this.markGone();
  }

  /** The VM is no more: connections closed, the runtime told. */
  async markGone(): Promise<void> {
    if (this.gone) return;
    this.gone = true;
    this.control?.close();
    this.data?.close();
    this.qmp?.close();
    this.ports = new Set();
    await this.hooks.onGone();
  }

  /** Closes the connections; the VM runs on (the VCH is shutting down). */
  detach(): void {
    this.control?.close();
    this.data?.close();
    this.qmp?.close();
  }

  private async onControlClosed(control: ControlChannel): Promise<void> {
    const quiet = () =>
      this.hooks.closed() || this.control !== control || this.gone || this.poweringOff;
    if (quiet()) return;
    await sleep(100);
    if (quiet()) return;
    if (this.alive()) {
      this.hooks.log.warn({ sandbox: this.rec.id }, 'pod VM control channel closed; reconnecting');
      await this.attach().catch((e) =>
        this.hooks.log.error(
          { sandbox: this.rec.id, err: (e as Error).message },
          'reconnect failed',
        ),
      );
      return;
    }
    this.hooks.log.warn({ sandbox: this.rec.id }, 'pod VM exited');
    await this.markGone();
  }
}

/**
 * Runs fn with a path to `name` in `dir` short enough for a unix socket (107 bytes): through
 * /proc/self/fd of an open handle on the directory.
 */
async function inDir<T>(dir: string, name: string, fn: (path: string) => Promise<T>): Promise<T> {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    let last: unknown;
    // qemu has bound its sockets once launchQemu returns; a retry covers a slow file system.
    for (let i = 0; i < 20; i++) {
      try {
        return await fn(`/proc/self/fd/${fd}/${name}`);
      } catch (e) {
        last = e;
        await sleep(50);
      }
    }
    throw last;
  } finally {
    closeSync(fd);
  }
}

export async function waitDead(q: ProcessIdentity, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isAlive(q)) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

async function consoleTail(path: string): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 600);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      const text = buf.toString('utf8').trim();
      return text ? `; the VM's console ends with: ${text.split('\n').slice(-3).join(' | ')}` : '';
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}
