// The vm backend: each pod sandbox is a qemu VM (qemu.ts) booting the project's guest
// (guest-build.ts) whose PID 1 is the agent (tether/agent.c). Containers are overlay rootfs
// directories on the host, shared into the guest over 9p, run by the agent in namespaces of
// their own; their output goes from the agent through a virtio-serial port straight into
// output.log (qemu's file chardev), never through this process. What happened to a container is
// in its status files on the share; the control channel (control.ts) carries requests and news.
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { formatTime } from '../../iolog/index.js';
import { conflict, invalidInput, notFound, unavailable } from '../errors.js';
import type {
  ContainerSpec,
  ContainerState,
  ContainerStatus,
  Runtime,
  SandboxSpec,
  StopOptions,
} from '../runtime.js';
import { parseSignal } from '../signals.js';
import { checkContainerSpec } from '../container-spec-check.js';
import { resolveUser, type ResolvedUser } from '../user.js';
import { readExit, readStarted, type ExitStatus } from '../runc/exit-watch.js';
import { readJson, writeJsonAtomic } from '../runc/files.js';
import { KeyedLock } from '../runc/keyed-lock.js';
import { validId } from '../runc/layout.js';
import { isMounted, prepareRootfs, removeRootfs, type RootfsMode } from '../runc/rootfs.js';
import type { AgentMessage } from './control.js';
import { buildGuest, type Guest, type GuestBuildOptions } from './guest-build.js';
import { VmLayout } from './layout.js';
import { PodVm, type SandboxRecord } from './pod-vm.js';
import { kvmUsable, vmSize, type Accel } from './qemu.js';

export interface VmRuntimeOptions {
  /** Where the backend keeps everything (it uses `<stateDir>/vm/`). */
  stateDir: string;
  logger?: Logger;
  /** 'auto' (default): KVM where /dev/kvm is usable, TCG otherwise. */
  accel?: Accel | 'auto';
  /** How the guest is built (cache directory, agent binary). */
  guest?: GuestBuildOptions;
  /** How long a VM may take from launch to its agent's hello. Default 60 s (TCG), 20 s (KVM). */
  bootTimeoutMs?: number;
  /** Called with each VM's boot time, for the VCH's metric. */
  onBoot?: (boot: { sandboxId: string; ms: number; accel: Accel }) => void;
  /** qemu binary. Default qemu-system-x86_64. */
  qemuPath?: string;
}

interface ContainerRecord {
  id: string;
  sandboxId: string;
  spec: ContainerSpec;
  user: ResolvedUser;
  rootfsMode: RootfsMode;
  status: ContainerStatus;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  reason?: string;
}

/** Reason of containers whose VM went away under them (killed from outside, crashed). */
export const VM_EXITED = 'PodVMExited';

const nsToTime = (ns: string | bigint) => formatTime(BigInt(ns));
const now = () => formatTime(BigInt(Date.now()) * 1_000_000n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class VmRuntime implements Runtime {
  readonly name = 'vm' as const;
  private readonly layout: VmLayout;
  private readonly log: Logger;
  private readonly accel: Accel;
  private readonly bootTimeoutMs: number;
  private readonly vms = new Map<string, PodVm>();
  private readonly containers = new Map<string, ContainerRecord>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly lock = new KeyedLock();
  private guest: Promise<Guest> | undefined;
  private loading: Promise<{ sandboxes: string[]; containers: ContainerState[] }> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private closed = false;

  constructor(private readonly options: VmRuntimeOptions) {
    this.layout = new VmLayout(options.stateDir);
    this.log = options.logger ?? pino({ level: 'silent' });
    const accel = options.accel ?? 'auto';
    this.accel = accel === 'auto' ? (kvmUsable() ? 'kvm' : 'tcg') : accel;
    this.bootTimeoutMs = options.bootTimeoutMs ?? (this.accel === 'kvm' ? 20_000 : 60_000);
  }

  /** The accelerator this runtime's VMs use. */
  get accelerator(): Accel {
    return this.accel;
  }

  // --- sandboxes ------------------------------------------------------------------------------

  async createSandbox(spec: SandboxSpec): Promise<void> {
    await this.ready();
    if (!validId(spec.id)) throw invalidInput(`invalid sandbox id ${JSON.stringify(spec.id)}`);
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(spec.hostname))
      throw invalidInput(`invalid hostname ${JSON.stringify(spec.hostname)}`);
    for (const [v, what] of [
      [spec.memoryLimitBytes, 'memory limit'],
      [spec.cpuMillis, 'cpu limit'],
    ] as const)
      if (v !== undefined && !(Number.isFinite(v) && v > 0))
        throw invalidInput(`${what} ${v} is not a positive number`);
    await this.lock.run(spec.id, async () => {
      const existing = this.vms.get(spec.id);
      if (existing && !existing.gone) return;
      const size = vmSize(spec.memoryLimitBytes, spec.cpuMillis);
      const rec: SandboxRecord = existing?.rec ?? {
        id: spec.id,
        spec,
        accel: this.accel,
        ...size,
      };
      const vm = existing ?? this.newVm(rec);
      const dirs = this.layout.sandbox(spec.id);
      if (!existing) {
        await mkdir(dirs.share, { recursive: true });
        await writeJsonAtomic(dirs.record, rec);
        this.vms.set(spec.id, vm);
      }
      try {
        await vm.launch();
        this.ensureTimer();
      } catch (e) {
        // A new sandbox whose VM cannot start is not kept (an old one stays, to be removed).
        if (!existing) {
          this.vms.delete(spec.id);
          await rm(dirs.dir, { recursive: true, force: true });
        }
        throw e;
      }
    });
  }

  /**
   * Resolves once the sandbox's VM has booted (its agent said hello); rejects if it does not
   * within the boot timeout (the VM is then killed). createSandbox resolves earlier, at launch.
   */
  async booted(id: string): Promise<void> {
    await this.ready();
    const vm = this.vms.get(id);
    if (!vm) throw notFound(`no such sandbox ${id}`);
    await vm.attaching;
    if (!vm.ready) throw unavailable(`the pod VM of sandbox ${id} is not running`);
    await vm.ready;
  }

  /** Powers the pod VM off while none of its containers runs; start() boots it again. */
  async stopSandbox(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const vm = this.vms.get(id);
      if (!vm) throw notFound(`no such sandbox ${id}`);
      const running = [...this.containers.values()].filter(
        (c) => c.sandboxId === id && c.status === 'running',
      );
      if (running.length > 0)
        throw conflict(`sandbox ${id} still runs ${running.length} container(s)`);
      if (vm.gone) return;
      await vm.powerOff(); // which logs it
    });
  }

  async removeSandbox(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const vm = this.vms.get(id);
      if (!vm) throw notFound(`no such sandbox ${id}`);
      const left = [...this.containers.values()].filter((c) => c.sandboxId === id);
      if (left.length > 0)
        throw conflict(`sandbox ${id} still has ${left.length} container(s); remove them first`);
      await vm.powerOff();
      const dirs = this.layout.sandbox(id);
      for (const entry of await readdir(dirs.share).catch(() => [] as string[]))
        if (isMounted(join(dirs.share, entry, 'rootfs')))
          throw unavailable(`a container rootfs is still mounted in ${dirs.share}`);
      await rm(dirs.dir, { recursive: true, force: true });
      this.vms.delete(id);
      this.log.info({ sandbox: id }, 'pod VM removed');
    });
  }

  // --- containers -----------------------------------------------------------------------------

  async createContainer(sandboxId: string, spec: ContainerSpec): Promise<void> {
    await this.ready();
    if (!validId(spec.id)) throw invalidInput(`invalid container id ${JSON.stringify(spec.id)}`);
    const vm = this.vms.get(sandboxId);
    if (!vm) throw notFound(`no such sandbox ${sandboxId}`);
    await checkContainerSpec(spec);
    await this.lock.run(spec.id, async () => {
      if (this.containers.has(spec.id)) throw conflict(`container ${spec.id} already exists`);
      const dirs = this.layout.container(sandboxId, spec.id);
      await mkdir(dirs.dir, { recursive: true });
      await mkdir(dirs.status, { recursive: true });
      try {
        const rootfsMode = await prepareRootfs(spec.imageRootfs, dirs);
        const user = await resolveUser(dirs.rootfs, spec.process.user);
        await mkdir(dirname(spec.logPath), { recursive: true });
        await (await open(spec.logPath, 'a', 0o640)).close();
        const rec: ContainerRecord = {
          id: spec.id,
          sandboxId,
          spec,
          user,
          rootfsMode,
          status: 'created',
        };
        await writeJsonAtomic(dirs.record, rec);
        this.containers.set(spec.id, rec);
        // The port goes in now (the VM may still be booting): start then only has to ask.
        if (!vm.gone) await vm.addPort(rec.id, spec.logPath).catch(() => undefined);
        this.log.info(
          { container: spec.id, sandbox: sandboxId, rootfs: rootfsMode },
          'container created',
        );
      } catch (e) {
        await removeRootfs(dirs).catch(() => undefined);
        await rm(dirs.dir, { recursive: true, force: true });
        await rm(dirs.shared, { recursive: true, force: true });
        throw e;
      }
    });
  }

  async start(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const rec = this.get(id);
      if (rec.status === 'running') throw conflict(`container ${id} is already running`);
      const vm = this.vms.get(rec.sandboxId)!;
      if (vm.gone) {
        this.log.warn({ sandbox: vm.rec.id }, 'pod VM gone; booting it again');
        await this.lock.run(vm.rec.id, () => vm.launch());
        this.ensureTimer();
      }
      await vm.attaching;
      await vm.ready;
      const dirs = this.layout.container(rec.sandboxId, id);
      await rm(join(dirs.status, 'exit.json'), { force: true });
      await rm(join(dirs.status, 'started.json'), { force: true });
      await rm(join(dirs.status, 'oom.json'), { force: true });
      await prepareRootfs(rec.spec.imageRootfs, dirs, rec.rootfsMode);
      await vm.addPort(id, rec.spec.logPath);
      const p = rec.spec.process;
      const env = p.env.some((kv) => kv.startsWith('HOME='))
        ? p.env
        : [...p.env, `HOME=${rec.user.home}`];
      const gids = rec.user.additionalGids.length > 0 ? rec.user.additionalGids.join(',') : '';
      // The container's own limits: a cgroup in the guest (the VM is the pod's size).
      let opts = vm.rec.spec.shareProcessNamespace ? 'shared' : 'private';
      if (rec.spec.memoryLimitBytes) opts += `,mem=${Math.floor(rec.spec.memoryLimitBytes)}`;
      if (rec.spec.cpuMillis) opts += `,cpu=${Math.ceil(rec.spec.cpuMillis)}`;
      // Running once the agent has written started.json (or exit.json: it could not exec).
      const until = Date.now() + 30_000;
      let agentError: string | undefined;
      const onMsg = (m: AgentMessage) => {
        if (m.type === 'error' && m.id === id) agentError = m.message;
      };
      const control = vm.control;
      if (vm.gone || !control) throw unavailable(`the pod VM of ${id} is not running`);
      control.on('message', onMsg);
      try {
        vm.send([
          'start',
          id,
          opts,
          rec.user.uid,
          rec.user.gid,
          gids,
          p.cwd,
          p.args.length,
          ...p.args,
          env.length,
          ...env,
        ]);
        for (;;) {
          const started = await readStarted(dirs.status);
          if (started) {
            rec.status = 'running';
            rec.startedAt = /^\d{1,20}$/.test(String(started.startedNs))
              ? nsToTime(started.startedNs)
              : now();
            rec.finishedAt = rec.exitCode = rec.reason = undefined;
            break;
          }
          const exit = await readExit(dirs.status);
          if (exit) {
            rec.status = 'running'; // for settle
            await this.settle(rec, exit);
            if (exit.error) throw invalidInput(exit.error);
            return;
          }
          if (agentError) throw unavailable(`the pod VM could not start ${id}: ${agentError}`);
          if (vm.gone || Date.now() > until)
            throw unavailable(`container ${id} did not start in its pod VM`);
          await sleep(20);
        }
      } finally {
        control.off('message', onMsg);
      }
      await writeJsonAtomic(dirs.record, rec);
      this.log.info({ container: id, sandbox: rec.sandboxId }, 'container started');
    });
  }

  async stop(id: string, options: StopOptions = {}): Promise<ContainerState> {
    await this.ready();
    const rec = this.get(id);
    const signal = parseSignal(options.signal ?? rec.spec.stopSignal ?? 'SIGTERM');
    const graceMs = options.graceMs ?? 10_000;
    if (rec.status !== 'running') return this.toState(rec);
    this.signal(rec, signal);
    if (!(await this.waitExit(id, graceMs))) {
      this.log.info({ container: id, graceMs }, 'grace period over; SIGKILL');
      this.signal(rec, 9);
      if (!(await this.waitExit(id, 10_000)))
        throw unavailable(`container ${id} did not exit after SIGKILL`);
    }
    return this.toState(this.get(id));
  }

  async kill(id: string, signal: string): Promise<void> {
    await this.ready();
    const n = parseSignal(signal);
    const rec = this.get(id);
    if (rec.status !== 'running') throw conflict(`container ${id} is not running`);
    this.signal(rec, n);
  }

  async wait(id: string, abort?: AbortSignal): Promise<ContainerState> {
    await this.ready();
    const rec = this.get(id);
    if (rec.status !== 'running') return this.toState(rec);
    await new Promise<void>((resolve, reject) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const onAbort = () => {
        set.delete(done);
        reject(abort!.reason ?? new Error('aborted'));
      };
      const done = () => {
        abort?.removeEventListener('abort', onAbort);
        resolve();
      };
      set.add(done);
      if (abort?.aborted) onAbort();
      else abort?.addEventListener('abort', onAbort, { once: true });
    });
    return this.toState(this.get(id));
  }

  async remove(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const rec = this.get(id);
      if (rec.status === 'running') throw conflict(`container ${id} is running; stop it first`);
      const vm = this.vms.get(rec.sandboxId);
      if (vm) await vm.removePort(id);
      const dirs = this.layout.container(rec.sandboxId, id);
      await removeRootfs(dirs);
      // The log is the VCH's (spec.logPath, outside these directories): it stays.
      await rm(dirs.shared, { recursive: true, force: true });
      await rm(dirs.dir, { recursive: true, force: true });
      this.containers.delete(id);
      this.log.info({ container: id }, 'container removed');
    });
  }

  async state(id: string): Promise<ContainerState> {
    await this.ready();
    return this.toState(this.get(id));
  }

  recover(): Promise<{ sandboxes: string[]; containers: ContainerState[] }> {
    return this.ready();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const vm of this.vms.values()) vm.detach();
  }

  // --- the VM ---------------------------------------------------------------------------------

  private guestFiles(): Promise<Guest> {
    this.guest ??= buildGuest({
      ...this.options.guest,
      progress: (m) => this.log.info(m),
    }).catch((e) => {
      this.guest = undefined;
      throw e;
    });
    return this.guest;
  }

  private newVm(rec: SandboxRecord): PodVm {
    const vm: PodVm = new PodVm(rec, {
      log: this.log,
      layout: this.layout,
      bootTimeoutMs: this.bootTimeoutMs,
      qemuPath: this.options.qemuPath,
      guest: () => this.guestFiles(),
      ports: () =>
        [...this.containers.values()]
          .filter((c) => c.sandboxId === rec.id)
          .map((c) => ({ id: c.id, logPath: c.spec.logPath })),
      onMessage: (m: AgentMessage) => {
        if (m.type === 'exited') void this.checkExit(m.id);
        else if (m.type === 'error')
          this.log.warn({ sandbox: rec.id, container: m.id, err: m.message }, 'pod VM agent');
      },
      onGone: () => this.vmGone(vm),
      onBoot: this.options.onBoot,
      closed: () => this.closed,
    });
    return vm;
  }

  private signal(rec: ContainerRecord, signo: number): void {
    try {
      this.vms.get(rec.sandboxId)?.send(['signal', rec.id, signo]);
    } catch {
      this.log.debug({ container: rec.id }, 'signal not delivered: no pod VM');
    }
  }

  /** The VM is no more: its running containers exited with it. */
  private async vmGone(vm: PodVm): Promise<void> {
    for (const c of this.containers.values()) {
      if (c.sandboxId !== vm.rec.id || c.status !== 'running') continue;
      const exit = await readExit(this.layout.container(c.sandboxId, c.id).status);
      await this.lock
        .run(c.id, () => this.settle(c, exit, exit ? undefined : VM_EXITED))
        .catch((e) =>
          this.log.error(
            { container: c.id, err: (e as Error).message },
            'recording the exit failed',
          ),
        );
    }
  }

  /** Watches what messages may miss: qemu's death, exit.json written while disconnected. */
  private ensureTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.poll(), 1000);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    // Now and then the host's time, which the guest's clock follows (a TCG guest's TSC rate is
    // only as right as the host's cpu MHz it was told).
    const syncTime = ++this.ticks % 30 === 0;
    for (const vm of this.vms.values()) {
      if (!vm.gone && !vm.alive()) await vm.markGone();
      else if (syncTime && !vm.gone) {
        try {
          vm.send(['time', (BigInt(Date.now()) * 1_000_000n).toString()]);
        } catch {
          // not connected: the next hello sets it
        }
      }
    }
    for (const c of this.containers.values())
      if (c.status === 'running') await this.checkExit(c.id);
  }

  private async checkExit(id: string): Promise<void> {
    const rec = this.containers.get(id);
    if (!rec || rec.status !== 'running') return;
    const exit = await readExit(this.layout.container(rec.sandboxId, id).status);
    if (!exit) return;
    await this.lock
      .run(id, () => this.settle(rec, exit))
      .catch((e) =>
        this.log.error({ container: id, err: (e as Error).message }, 'recording the exit failed'),
      );
  }

  // --- state ----------------------------------------------------------------------------------

  private get(id: string): ContainerRecord {
    const rec = this.containers.get(id);
    if (!rec) throw notFound(`no such container ${id}`);
    return rec;
  }

  private toState(rec: ContainerRecord): ContainerState {
    const s: ContainerState = { id: rec.id, status: rec.status };
    if (rec.startedAt) s.startedAt = rec.startedAt;
    if (rec.status === 'exited') {
      if (rec.finishedAt) s.finishedAt = rec.finishedAt;
      if (rec.exitCode !== undefined) s.exitCode = rec.exitCode;
      if (rec.reason) s.reason = rec.reason;
    }
    return s;
  }

  private async waitExit(id: string, timeoutMs: number): Promise<boolean> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      await this.wait(id, ac.signal);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Records an exit: from the agent's exit status, or without one for `reason`. */
  private async settle(rec: ContainerRecord, exit: ExitStatus | undefined, reason?: string) {
    if (rec.status === 'exited') return;
    rec.status = 'exited';
    if (exit) {
      // Written by the guest: trusted as far as its numbers are numbers.
      rec.exitCode = Number.isInteger(exit.exitCode) ? exit.exitCode : 255;
      // The agent leaves oom.json when the guest's OOM killer struck in the container's cgroup.
      const oom = await stat(join(this.layout.container(rec.sandboxId, rec.id).status, 'oom.json'))
        .then(() => true)
        .catch(() => false);
      rec.finishedAt = /^\d{1,20}$/.test(String(exit.finishedNs))
        ? nsToTime(exit.finishedNs)
        : now();
      rec.reason = oom && exit.signal === 9 ? 'OOMKilled' : undefined;
    } else {
      rec.exitCode = reason === 'Lost' ? 255 : 137;
      rec.finishedAt = now();
      rec.reason = reason ?? VM_EXITED;
    }
    await writeJsonAtomic(this.layout.container(rec.sandboxId, rec.id).record, rec);
    this.log.info(
      { container: rec.id, exitCode: rec.exitCode, reason: rec.reason },
      'container exited',
    );
    const set = this.waiters.get(rec.id);
    this.waiters.delete(rec.id);
    for (const done of set ?? []) done();
  }

  private ready(): Promise<{ sandboxes: string[]; containers: ContainerState[] }> {
    if (this.closed) return Promise.reject(unavailable('the vm runtime is closed'));
    this.loading ??= this.load();
    return this.loading;
  }

  /** Reads the records on disk; re-attaches to the VMs still running; settles the rest. */
  private async load(): Promise<{ sandboxes: string[]; containers: ContainerState[] }> {
    for (const id of await readdir(this.layout.sandboxesDir).catch(() => [] as string[])) {
      const rec = await readJson<SandboxRecord>(this.layout.sandbox(id).record);
      if (!rec || rec.id !== id) continue;
      this.vms.set(id, this.newVm(rec));
    }
    for (const id of await readdir(this.layout.containersDir).catch(() => [] as string[])) {
      const rec = await readJson<ContainerRecord>(
        join(this.layout.containersDir, id, 'container.json'),
      );
      if (!rec || rec.id !== id || !this.vms.has(rec.sandboxId)) continue;
      this.containers.set(id, rec);
    }
    for (const vm of this.vms.values()) {
      if (vm.gone) continue;
      try {
        await vm.attach();
        await vm.ready;
        this.log.info({ sandbox: vm.rec.id }, 'pod VM re-attached');
      } catch (e) {
        this.log.warn(
          { sandbox: vm.rec.id, err: (e as Error).message },
          'cannot re-attach to the pod VM',
        );
      }
    }
    for (const c of this.containers.values()) {
      if (c.status !== 'running') continue;
      const vm = this.vms.get(c.sandboxId)!;
      const exit = await readExit(this.layout.container(c.sandboxId, c.id).status);
      if (exit) await this.settle(c, exit);
      else if (vm.gone) await this.settle(c, undefined, 'Lost');
    }
    if (this.vms.size > 0) this.ensureTimer();
    return {
      sandboxes: [...this.vms.keys()],
      containers: [...this.containers.values()].map((c) => this.toState(c)),
    };
  }
}
