// The vm backend: each pod sandbox is a qemu VM (qemu.ts, pod-vm.ts) booting the project's
// guest (guest-build.ts) whose PID 1 is the agent (tether/agent*.c). Containers are overlay
// rootfs directories on the host, shared into the guest over 9p, run by the agent in namespaces
// of their own; their output goes from the agent through a virtio-serial port straight into
// their log (qemu's file chardev), never through this process. Their starts and exits reach the
// host only over the control channel (control.ts): nothing the guest can write on the share is
// read back.
import { containerSeccomp } from '../seccomp/container.js';
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { conflict, invalidInput, notFound, notImplemented, unavailable } from '../errors.js';
import { exitOutcome, markRunning, type ContainerRecord } from '../core/container-record.js';
import { readJson, writeJsonAtomic } from '../core/files.js';
import type { ExecIo, ExecProcess } from '../core/exec.js';
import type { ExitedRecord } from '../core/protocol.js';
import { isMounted, prepareRootfs } from '../core/rootfs.js';
import { mountedUnder, prepareMounts } from '../core/volume-mounts.js';
import { RuntimeBase, type ContainerDirs } from '../core/runtime-base.js';
import { freshTerminationLog, readTerminationLog } from '../core/termination-log.js';
import type {
  ContainerSpec,
  ContainerSample,
  ExecStream,
  ExecStreamOptions,
  Runtime,
  SandboxNetwork,
  SandboxSpec,
  VolumeMount,
} from '../runtime.js';
import { readTapUsage } from '../stats/tap-dev.js';
import type { SandboxUsage } from '../stats/types.js';
import { hostsFile, resolvConfFile } from '../core/etc-files.js';
import { vmContainerSample } from './stats-request.js';
import type { AgentMessage, ControlChannel } from './control.js';
import type { DataMux } from './data-mux.js';
import { requestExecStream } from './exec-stream.js';
import { connectInVm } from './port-forward.js';
import type { Duplex } from 'node:stream';
import { buildGuest, type Guest, type GuestBuildOptions } from './guest-build.js';
import { VmLayout } from './layout.js';
import { PodVm, type SandboxRecord } from './pod-vm.js';
import { kvmUsable, vmSize, type Accel } from './qemu.js';
import { requestExec } from './exec-request.js';
import { requestStart, startRequest } from './start-request.js';
import { LogPortRotation } from './log-port-rotation.js';
import { projectRoot } from '../paths.js';
import type { LogRotation } from '../log-rotation.js';

/** A VM has a kernel of its own: nothing of the host's to share. */
export const vmCannotShare = (ns: string) =>
  `a pod VM cannot share the host's ${ns} namespace (it has a kernel of its own): run the pod on runc (annotation vic-kubelet.io/runtime: runc)`;
export const VM_NOT_PRIVILEGED =
  "a pod VM cannot run a privileged container (the host's devices and kernel are not the VM's): run the pod on runc (annotation vic-kubelet.io/runtime: runc)";

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
  /**
   * How qemu runs: under vm-jail (default dist/tether/vm-jail) as a uid of the VM's own,
   * `uidBase` + a slot from the sandbox id (a 20-bit range: 0x70000000 up by default), its gid
   * the same number; `false`: as root (what a VCH did before; not for untrusted pods).
   */
  jail?: { path?: string; uidBase?: number } | false;
  /** Containers' logs rotated (at the agent's request: log-port-rotation.ts); absent: never. */
  logRotation?: LogRotation;
  /** The VCH's network: each VM gets a tap on its bridge; absent (or no taps), loopback only. */
  network?: SandboxNetwork;
}

/** Reason of containers whose VM went away under them (killed from outside, crashed). */
export const VM_EXITED = 'PodVMExited';

/** How long start() waits for the agent's answer. */
const START_TIMEOUT_MS = 30_000;

/** The first of the pod VMs' qemu uids (and gids): no user or group of a Debian host has one. */
export const DEFAULT_QEMU_UID_BASE = 0x7000_0000;
const QEMU_UID_SLOTS = 1 << 20;

/** vm-jail as the build leaves it. */
export function defaultJailPath(): string {
  return join(projectRoot(), 'dist', 'tether', 'vm-jail');
}

export class VmRuntime extends RuntimeBase<ContainerRecord> implements Runtime {
  readonly name = 'vm' as const;
  private readonly layout: VmLayout;
  private readonly accel: Accel;
  private readonly bootTimeoutMs: number;
  private readonly vms = new Map<string, PodVm>();
  private guest: Promise<Guest> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private readonly logPorts: LogPortRotation | undefined;

  constructor(private readonly options: VmRuntimeOptions) {
    super(options.logger ?? pino({ level: 'silent' }));
    this.layout = new VmLayout(options.stateDir);
    const accel = options.accel ?? 'auto';
    this.accel = accel === 'auto' ? (kvmUsable() ? 'kvm' : 'tcg') : accel;
    this.bootTimeoutMs = options.bootTimeoutMs ?? (this.accel === 'kvm' ? 20_000 : 60_000);
    this.logPorts = options.logRotation && new LogPortRotation(options.logRotation, this.log);
  }

  /** The accelerator this runtime's VMs use. */
  get accelerator(): Accel {
    return this.accel;
  }

  protected override checkBackendSpec(spec: ContainerSpec): void {
    if (spec.security?.privileged) throw invalidInput(VM_NOT_PRIVILEGED);
  }

  // --- sandboxes ------------------------------------------------------------------------------

  async createSandbox(spec: SandboxSpec): Promise<void> {
    await this.ready();
    this.checkSandboxSpec(spec);
    for (const [v, what] of [
      [spec.memoryLimitBytes, 'memory limit'],
      [spec.cpuMillis, 'cpu limit'],
    ] as const)
      if (v !== undefined && !(Number.isFinite(v) && v > 0))
        throw invalidInput(`${what} ${v} is not a positive number`);
    // Published to the VM's address on the bridge (attachTap): no bridge, nowhere to go.
    if (spec.ports?.length && !this.options.network?.attachTap)
      throw invalidInput("published ports need the VCH's bridge network: this pod VM has none");
    const shared = (
      [
        ['network', spec.hostNetwork],
        ['PID', spec.hostPID],
        ['IPC', spec.hostIPC],
      ] as const
    ).find(([, on]) => on);
    if (shared) throw invalidInput(vmCannotShare(shared[0]));
    await this.lock.run(spec.id, async () => {
      const existing = this.vms.get(spec.id);
      if (existing && !existing.gone) return;
      const size = vmSize(spec.memoryLimitBytes, spec.cpuMillis);
      const rec: SandboxRecord = existing?.rec ?? { id: spec.id, spec, accel: this.accel, ...size };
      const vm = existing ?? this.newVm(rec);
      const dirs = this.layout.sandbox(spec.id);
      if (!existing) {
        await mkdir(dirs.share, { recursive: true });
        await writeJsonAtomic(dirs.record, rec);
        this.vms.set(spec.id, vm);
      }
      try {
        await this.attachNetwork(vm);
        this.assignUid(vm.rec);
        await vm.launch();
        this.ensureTimer();
      } catch (e) {
        // A new sandbox whose VM cannot start is not kept (an old one stays, to be removed).
        if (!existing) {
          this.vms.delete(spec.id);
          await this.options.network?.detach(spec.id);
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
    const vm = this.vm(id);
    await vm.attaching;
    if (!vm.ready) throw unavailable(`the pod VM of sandbox ${id} is not running`);
    await vm.ready;
  }

  /** Powers the pod VM off while none of its containers runs; start() boots it again. */
  async stopSandbox(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const vm = this.vm(id);
      const running = this.containersOf(id, true);
      if (running.length > 0)
        throw conflict(`sandbox ${id} still runs ${running.length} container(s)`);
      if (vm.gone) return;
      await vm.powerOff(); // which logs it
    });
  }

  async removeSandbox(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const vm = this.vm(id);
      const left = this.containersOf(id);
      if (left.length > 0)
        throw conflict(`sandbox ${id} still has ${left.length} container(s); remove them first`);
      await vm.powerOff();
      const dirs = this.layout.sandbox(id);
      for (const entry of await readdir(dirs.share).catch(() => [] as string[]))
        if (
          (await isMounted(join(dirs.share, entry, 'rootfs'))) ||
          (await mountedUnder(join(dirs.share, entry)))
        )
          throw unavailable(`a container rootfs is still mounted in ${dirs.share}`);
      await this.options.network?.detach(id);
      await rm(dirs.dir, { recursive: true, force: true });
      this.vms.delete(id);
      this.log.info({ sandbox: id }, 'pod VM removed');
    });
  }

  // --- containers -----------------------------------------------------------------------------

  async start(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const rec = this.get(id);
      if (rec.status === 'running') throw conflict(`container ${id} is already running`);
      const vm = this.vm(rec.sandboxId);
      if (vm.gone) {
        this.log.warn({ sandbox: vm.rec.id }, 'pod VM gone; booting it again');
        await this.lock.run(vm.rec.id, async () => {
          await this.attachNetwork(vm);
          this.assignUid(vm.rec);
          await vm.launch();
        });
        this.ensureTimer();
      }
      await vm.attaching;
      await vm.ready;
      const dirs = this.layout.container(rec.sandboxId, id);
      await prepareRootfs(rec.spec.imageRootfs, dirs, rec.rootfsMode);
      if (rec.spec.terminationMessagePath) await freshTerminationLog(dirs.terminationLog);
      const etc = await this.etcFiles(vm.rec.id, vm.rec.spec);
      const volumes = await prepareMounts([...etc, ...(rec.spec.mounts ?? [])], dirs.mounts);
      // A restart: the port it has already is pointed at the log path afresh (the VCH may have
      // moved the last instance's log away: kubectl logs --previous); else a new port.
      if (!(await vm.changePortFile(id, rec.spec.logPath))) await vm.addPort(id, rec.spec.logPath);
      const control = vm.control;
      if (vm.gone || !control) throw unavailable(`the pod VM of ${id} is not running`);
      const seccomp = await containerSeccomp(rec.spec.security);
      const rotation = this.options.logRotation;
      const request = startRequest(
        rec,
        vm.rec.spec.shareProcessNamespace === true,
        volumes,
        seccomp,
        rotation && { ...rotation, size: (await stat(rec.spec.logPath)).size },
      );
      const previous = rec.startedNs !== undefined ? BigInt(rec.startedNs) : -1n;
      const answer = await requestStart(control, request, previous, START_TIMEOUT_MS);
      if (answer.type === 'exited') {
        // It could not exec (or exited at once): a run that is over.
        markRunning(rec, { type: 'started', id, pid: 0, startedNs: answer.startedNs });
        await this.settle(rec, this.outcome(answer));
        if (answer.error) throw invalidInput(answer.error);
        return;
      }
      markRunning(rec, answer);
      await this.writeRecord(rec);
      this.log.info({ container: id, sandbox: rec.sandboxId }, 'container started');
    });
  }

  /**
   * The VM's tap and address on the VCH's bridge (kept in its record: launch gives them to qemu
   * and the agent), when the VCH has a bridge; the same ones when it had them before.
   */
  private async attachNetwork(vm: PodVm): Promise<void> {
    const net = this.options.network;
    if (!net?.attachTap) return;
    vm.rec.net = await net.attachTap(vm.rec.id, vm.rec.spec.ports);
    await writeJsonAtomic(this.layout.sandbox(vm.rec.id).record, vm.rec);
  }

  /**
   * The VM's qemu uid under vm-jail, once: the base plus a slot from its id, the next free one
   * when another VM of this VCH has it (two VMs of one uid could signal each other's qemu).
   * Kept in its record (written by launch), so a relaunch gets the same.
   */
  private assignUid(rec: SandboxRecord): void {
    if (this.options.jail === false || rec.qemuUid !== undefined) return;
    const base = this.options.jail?.uidBase ?? DEFAULT_QEMU_UID_BASE;
    const taken = new Set(
      [...this.vms.values()].filter((v) => v.rec !== rec).map((v) => v.rec.qemuUid),
    );
    let slot = parseInt(rec.id.slice(0, 5), 16) % QEMU_UID_SLOTS || 0;
    while (taken.has(base + slot)) slot = (slot + 1) % QEMU_UID_SLOTS;
    rec.qemuUid = base + slot;
  }

  /**
   * The pod's /etc/hosts and resolv.conf, written beside the VM and bound into the container
   * like volumes (first, so that a volume of the pod's own at the same path wins, as on runc).
   * Its name is on its address on the bridge, else (loopback only) on 127.0.1.1.
   */
  private async etcFiles(sandboxId: string, spec: SandboxSpec): Promise<VolumeMount[]> {
    const s = this.layout.sandbox(sandboxId);
    const address = this.vms.get(sandboxId)?.rec.net?.address.split('/')[0];
    await writeFile(s.hosts, hostsFile(spec.hostname, address, spec.names));
    await writeFile(s.resolvConf, await resolvConfFile(spec.names?.dns));
    return [
      { source: s.dir, subPath: basename(s.hosts), destination: '/etc/hosts' },
      { source: s.dir, subPath: basename(s.resolvConf), destination: '/etc/resolv.conf' },
    ];
  }

  override async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const vm of this.vms.values()) vm.detach();
    await super.close();
  }

  // --- what RuntimeBase asks of a backend ---------------------------------------------------

  protected checkSandbox(sandboxId: string): void {
    this.vm(sandboxId);
  }

  protected containerDirs(sandboxId: string, id: string): ContainerDirs {
    const dirs = this.layout.container(sandboxId, id);
    return { ...dirs, owned: [dirs.dir, dirs.shared] };
  }

  protected override async terminationMessage(rec: ContainerRecord): Promise<string | undefined> {
    // On the share: the guest may have put anything there (termination-log.ts).
    return readTerminationLog(this.layout.container(rec.sandboxId, rec.id).terminationLog);
  }

  protected override async prepare(rec: ContainerRecord): Promise<void> {
    const io = rec.spec.stdio;
    if (io?.stdin || io?.tty)
      throw notImplemented(
        `a container's own ${io.tty ? 'terminal' : 'stdin'} (attach) is not supported in a pod VM yet: run it on runc`,
      );
    // The log exists before the VM's port appends to it.
    await mkdir(dirname(rec.spec.logPath), { recursive: true });
    await (await open(rec.spec.logPath, 'a', 0o640)).close();
  }

  protected override async onCreated(rec: ContainerRecord): Promise<void> {
    // The port goes in now (the VM may still be booting): start then only has to ask.
    const vm = this.vms.get(rec.sandboxId);
    if (vm && !vm.gone) await vm.addPort(rec.id, rec.spec.logPath).catch(() => undefined);
  }

  protected async deliver(rec: ContainerRecord, signo: number): Promise<void> {
    try {
      this.vms.get(rec.sandboxId)?.send(['signal', rec.id, signo]);
    } catch {
      this.log.debug({ container: rec.id }, 'signal not delivered: no pod VM');
    }
  }

  protected async runExec(rec: ContainerRecord, proc: ExecProcess, io: ExecIo): Promise<number> {
    const vm = this.vm(rec.sandboxId);
    const control = vm.control;
    if (vm.gone || !control || control.isClosed)
      throw unavailable(`the pod VM of ${rec.id} is not running`);
    return requestExec(control, rec.id, proc, io);
  }

  /** Its streams on a channel of the VM's data port (exec-stream.ts). */
  protected async runExecStream(
    rec: ContainerRecord,
    proc: ExecProcess,
    options: ExecStreamOptions,
  ): Promise<ExecStream> {
    const { control, data } = this.channels(rec.sandboxId, `exec in ${rec.id}`);
    return requestExecStream(control, data, rec.id, proc, options);
  }

  /** A connection the VM's agent makes to the port on the guest's loopback (port-forward.ts). */
  async portForward(sandboxId: string, port: number): Promise<Duplex> {
    await this.ready();
    const { control, data } = this.channels(sandboxId, 'port-forward');
    return connectInVm(control, data, port);
  }

  /** The running VM's control and data connections; Conflict/Unavailable when it has none. */
  private channels(sandboxId: string, what: string): { control: ControlChannel; data: DataMux } {
    const vm = this.vm(sandboxId);
    const { control, data } = vm;
    if (vm.gone || !control || control.isClosed)
      throw conflict(`${what}: the pod VM of sandbox ${sandboxId} is not running`);
    if (!data || data.isClosed)
      throw unavailable(
        `${what}: this pod VM has no data port (it was started by an older VCH); restart the pod`,
      );
    return { control, data };
  }

  /** Its cgroup's figures from the guest's agent, and its layer on the share. */
  async stats(id: string): Promise<ContainerSample> {
    await this.ready();
    const rec = this.get(id);
    const vm = this.vms.get(rec.sandboxId);
    const control = vm && !vm.gone ? vm.control : undefined;
    return vmContainerSample(rec, control, this.layout.container(rec.sandboxId, rec.id));
  }

  /** The VM's eth0 as its tap on the VCH's bridge counts it; none without a tap. */
  async sandboxStats(id: string): Promise<SandboxUsage> {
    await this.ready();
    this.checkSandbox(id);
    const tap = this.vms.get(id)?.rec.net?.tap;
    const eth0 = tap ? await readTapUsage(tap) : undefined;
    return { interfaces: eth0 ? [eth0] : [] };
  }

  protected override async onRemove(rec: ContainerRecord): Promise<void> {
    await this.vms.get(rec.sandboxId)?.removePort(rec.id);
  }

  /** Reads the records on disk; re-attaches to the VMs still running; settles the rest. */
  protected async load(): Promise<string[]> {
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
        // Once the agent has said hello it is asked for its containers' state (pod-vm.ts):
        // exits that happened while the VCH was away come as exited messages.
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
    for (const c of this.containers.values())
      if (c.status === 'running' && this.vms.get(c.sandboxId)!.gone)
        await this.settle(c, exitOutcome(undefined, false, 'Lost'));
    if (this.vms.size > 0) this.ensureTimer();
    return [...this.vms.keys()];
  }

  // --- the VM ---------------------------------------------------------------------------------

  private vm(sandboxId: string): PodVm {
    const vm = this.vms.get(sandboxId);
    if (!vm) throw notFound(`no such sandbox ${sandboxId}`);
    return vm;
  }

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
      ...(this.options.jail !== false && {
        jailPath: this.options.jail?.path ?? defaultJailPath(),
      }),
      guest: () => this.guestFiles(),
      ports: () => this.containersOf(rec.id).map((c) => ({ id: c.id, logPath: c.spec.logPath })),
      onMessage: (m: AgentMessage) => this.onMessage(rec.id, m),
      onGone: () => this.vmGone(vm),
      onBoot: this.options.onBoot,
      closed: () => this.closed,
    });
    return vm;
  }

  /** News from a VM's agent: an exit of one of its running containers is recorded. */
  private onMessage(sandboxId: string, m: AgentMessage): void {
    if (m.type === 'error') {
      this.log.warn({ sandbox: sandboxId, container: m.id, err: m.message }, 'pod VM agent');
      return;
    }
    if (m.type === 'rotate') {
      const rec = this.containers.get(m.id);
      const vm = this.vms.get(sandboxId);
      if (rec && vm && rec.sandboxId === sandboxId && this.logPorts)
        void this.logPorts.rotate(vm, m.id, rec.spec.logPath, m.size);
      return;
    }
    if (m.type !== 'exited') return;
    const rec = this.containers.get(m.id);
    // Only its own containers, and only an exit of the current run (not an older one that an
    // answer to a status request still carried).
    if (!rec || rec.sandboxId !== sandboxId || rec.status !== 'running') return;
    if (rec.startedNs !== undefined && m.startedNs < BigInt(rec.startedNs)) return;
    void this.lockedSettle(rec, async () => this.outcome(m));
  }

  /** The VM is no more: its running containers exited with it. */
  private async vmGone(vm: PodVm): Promise<void> {
    for (const c of this.containersOf(vm.rec.id, true))
      await this.lockedSettle(c, async () => exitOutcome(undefined, false, VM_EXITED));
  }

  /** Watches what messages may miss: qemu's death, news dropped while the port was full. */
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
      if (!vm.gone && !vm.alive()) {
        await vm.markGone();
        continue;
      }
      if (vm.gone) continue;
      try {
        if (syncTime) vm.send(['time', (BigInt(Date.now()) * 1_000_000n).toString()]);
        if (this.containersOf(vm.rec.id, true).length > 0) vm.send(['status']);
      } catch {
        // not connected: the next hello sets the time and asks for the status
      }
    }
  }

  /** The agent's OOM flag counts when the process died of SIGKILL (the OOM killer's signal). */
  private outcome(exit: ExitedRecord) {
    return exitOutcome(exit, exit.oom && exit.signal === 9, VM_EXITED);
  }
}
