// The runc backend: a pod sandbox is a pause process holding the pod's namespaces
// (sandboxes.ts); each container is a runc container joining them, with the tether as its init
// writing the container's output straight to its log and its start and exit to a status file
// only the host can reach (exit-watch.ts).
import { containerSeccomp } from '../seccomp/container.js';
import { hostDevices } from './host-devices.js';
import { constants } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import { conflict, invalidInput, unavailable } from '../errors.js';
import type { ExecIo, ExecProcess } from '../core/exec.js';
import { exitOutcome, markRunning, type ContainerRecord } from '../core/container-record.js';
import { readJson, writeJsonAtomic } from '../core/files.js';
import { bootId, identify, isAlive } from '../core/proc.js';
import type { ExitedRecord } from '../core/protocol.js';
import { prepareRootfs, removeRootfs } from '../core/rootfs.js';
import { freshTerminationLog, readTerminationLog } from '../core/termination-log.js';
import { prepareMounts } from '../core/volume-mounts.js';
import { RuntimeBase, type ContainerDirs } from '../core/runtime-base.js';
import { sleep } from '../core/time.js';
import { mkdirInRoot } from '../in-root.js';
import type { LogRotation } from '../log-rotation.js';
import type {
  AttachSession,
  ContainerSample,
  ExecStream,
  ExecStreamOptions,
  PathStat,
  Runtime,
  SandboxNetwork,
  SandboxSpec,
  SandboxUsage,
  StdioSpec,
} from '../runtime.js';
import { cgroupPids, containerSample, oomKilled, sandboxUsage } from './stats.js';
import { ExitWatcher, readStatus } from './exit-watch.js';
import { Layout } from './layout.js';
import { containerConfig, execProcessConfig } from './oci-config.js';
import { EXEC_SOCKET, tetherExec } from './tether-exec.js';
import { ATTACH_SOCKET, tetherAttach } from './tether-attach.js';
import { Runc, RuncError, runcExec } from './runc-cli.js';
import { runcExecStream } from './exec-stream.js';
import type { FileToOpen } from '../../spawn/run-command.js';
import { readPid, RuncSandboxes } from './sandboxes.js';
import { connectInNetns, netnsConnectPath } from './port-forward.js';
import {
  archiveFromContainer,
  type ArchiveTarget,
  containerCpPath,
  extractIntoContainer,
  HOST_BUSYBOX,
  statInContainer,
} from './container-archive.js';

const hasStdio = (io: StdioSpec | undefined) => io?.stdin === true || io?.tty === true;

export interface RuncRuntimeOptions {
  /** Where the backend keeps everything, e.g. `<vch-state>/runtime/runc`. */
  stateDir: string;
  /** Default: dist/tether/tether of this project. */
  tetherPath?: string;
  /** Default: `runc` on PATH. */
  runcPath?: string;
  logger?: Logger;
  /** How long start() waits for the process to run. Default 10 s. */
  startTimeoutMs?: number;
  /** The VCH's network: each sandbox's namespace is attached to it; absent, loopback only. */
  network?: SandboxNetwork;
  /** Containers' logs rotated by their tether; absent: never rotated. */
  logRotation?: LogRotation;
}

interface RuncContainer extends ContainerRecord {
  /** The boot the init was started in: after a reboot its pid means nothing. */
  bootId?: string;
}

export class RuncRuntime extends RuntimeBase<RuncContainer> implements Runtime {
  readonly name = 'runc' as const;
  private readonly layout: Layout;
  private readonly runc: Runc;
  private readonly tether: string;
  private readonly logRotation: LogRotation | undefined;
  private readonly startTimeoutMs: number;
  private readonly boot = bootId();
  private readonly sandboxes: RuncSandboxes;
  private readonly watchers = new Map<string, ExitWatcher>();

  constructor(options: RuncRuntimeOptions & { tetherPath: string }) {
    super(options.logger ?? pino({ level: 'silent' }));
    this.layout = new Layout(options.stateDir);
    this.runc = new Runc(options.runcPath ?? 'runc', this.layout.runcRoot);
    this.tether = options.tetherPath;
    this.logRotation = options.logRotation;
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.sandboxes = new RuncSandboxes(
      this.layout,
      this.runc,
      this.tether,
      this.lock,
      this.log,
      options.network,
    );
  }

  // --- sandboxes ------------------------------------------------------------------------------

  async createSandbox(spec: SandboxSpec): Promise<void> {
    await this.ready();
    this.checkSandboxSpec(spec);
    await this.lock.run(spec.id, () => this.sandboxes.create(spec));
  }

  async removeSandbox(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      this.checkSandbox(id);
      const left = this.containersOf(id);
      if (left.length > 0)
        throw conflict(`sandbox ${id} still has ${left.length} container(s); remove them first`);
      await this.sandboxes.teardown(id);
      this.log.info({ sandbox: id }, 'sandbox removed');
    });
  }

  // --- containers -----------------------------------------------------------------------------

  async start(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const rec = this.get(id);
      if (rec.status === 'running') throw conflict(`container ${id} is already running`);
      const sandbox = this.sandboxes.spec(rec.sandboxId);
      const busy = this.containersOf(rec.sandboxId, true).length > 0;
      const pause = await this.sandboxes.livePause(rec.sandboxId, busy);
      const dirs = this.layout.container(id);
      // A restart: the previous run's runc state and status go; rootfs and log stay. (An older
      // VCH kept a status directory here: that goes too.)
      await this.runc.forget(id);
      await rm(dirs.status, { recursive: true, force: true });
      await prepareRootfs(rec.spec.imageRootfs, dirs, rec.rootfsMode);
      const volumes = await prepareMounts(rec.spec.mounts ?? [], dirs.mounts);
      await mkdir(dirs.bundle, { recursive: true });
      const seccomp = await containerSeccomp(rec.spec.security);
      const privileged = rec.spec.security?.privileged === true;
      const sandboxDirs = this.layout.sandbox(rec.sandboxId);
      const messagePath = rec.spec.terminationMessagePath;
      if (messagePath) await freshTerminationLog(dirs.terminationLog);
      await writeJsonAtomic(
        `${dirs.bundle}/config.json`,
        containerConfig({
          id,
          rootfs: dirs.rootfs,
          process: rec.spec.process,
          user: rec.user,
          tether: this.tether,
          pausePid: pause.pid,
          // hostPID: the pause's PID namespace is the host's, joined as a shared one.
          sharePid: sandbox.shareProcessNamespace === true || sandbox.hostPID === true,
          ...(!sandbox.shareProcessNamespace &&
            !sandbox.hostPID && { targetPid: this.targetPid(rec) }),
          // hostIPC: the host's /dev/shm, as containerd binds it.
          sandbox: { ...sandboxDirs, ...(sandbox.hostIPC && { shm: '/dev/shm' }) },
          memoryLimitBytes: rec.spec.memoryLimitBytes,
          cpuMillis: rec.spec.cpuMillis,
          labels: rec.spec.labels,
          security: rec.spec.security,
          seccomp,
          ...(messagePath && {
            terminationLog: { source: dirs.terminationLog, destination: messagePath },
          }),
          volumes: volumes.map((v) => ({ ...v, source: v.hostPath })),
          ...(this.logRotation && {
            logRotation: { ...this.logRotation, name: basename(rec.spec.logPath) },
          }),
          execServer: true,
          ...(privileged && { devices: await hostDevices() }),
          ...(rec.spec.stdio && { stdio: rec.spec.stdio }),
        }),
      );
      await mkdir(dirname(rec.spec.logPath), { recursive: true });
      // O_NOFOLLOW: the log's directory is written from inside the container (rotation).
      const append =
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
      // Opened for the tether by whoever runs runc (core/spawn), as fds LOG_FD, STATUS_FD and
      // LOG_DIR_FD: the log; the status file, new for this start; the log's directory, where
      // the tether renames and creates the log's files as it rotates them (it cannot reach the
      // host's path from inside the container). The container's process can reach none of the
      // tether's fds (close-on-exec, the tether not dumpable).
      const files: FileToOpen[] = [
        { path: rec.spec.logPath, flags: append, mode: 0o640 },
        { path: dirs.status, flags: append | constants.O_EXCL, mode: 0o600 },
        ...(this.logRotation
          ? [{ path: dirname(rec.spec.logPath), flags: constants.O_RDONLY | constants.O_DIRECTORY }]
          : []),
        // execFd(): the socket the tether takes execs on (tether-exec.ts), in the container's
        // own directory, bound by the runner.
        { path: join(dirs.dir, EXEC_SOCKET), listen: true },
        // attachFd(): the container's own stdin and terminal, for attach sessions.
        ...(hasStdio(rec.spec.stdio)
          ? [{ path: join(dirs.dir, ATTACH_SOCKET), listen: true as const }]
          : []),
      ];
      const pidFile = `${dirs.dir}/init.pid`;
      // The pod's CNI ADD has run beside all of the above; the process starts on its network.
      await this.sandboxes.networkReady(rec.sandboxId);
      await this.runc.runDetached({
        id,
        bundle: dirs.bundle,
        pidFile,
        consoleLog: dirs.runcLog,
        files,
      });
      // Created and started in one call: a short-lived init may be gone already, and then
      // only its status says how it went (below).
      const init = identify(await readPid(pidFile, dirs.runcLog)) ?? {
        pid: 0,
        startTime: 'gone',
      };
      rec.init = init;
      rec.bootId = this.boot;
      markRunning(rec);
      // Running once the tether says the process has exec'd (or that it could not).
      const until = Date.now() + this.startTimeoutMs;
      for (;;) {
        const status = await readStatus(dirs.status);
        if (status.started) {
          markRunning(rec, status.started);
          break;
        }
        let exit = status.exited;
        if (exit || !isAlive(init)) {
          exit ??= (await readStatus(dirs.status)).exited;
          await this.settle(rec, this.outcome(rec, exit, 'Killed'));
          if (exit?.error) throw invalidInput(exit.error);
          // Dead without a word from the tether: it never ran (or was killed at once).
          if (!exit)
            throw unavailable(`container ${id} died before its init ran (see ${dirs.runcLog})`);
          return;
        }
        if (Date.now() > until) break; // running as far as runc knows; the watcher takes over
        await sleep(10);
      }
      await this.writeRecord(rec);
      this.watch(rec);
      this.log.info({ container: id, pid: init.pid }, 'container started');
    });
  }

  /**
   * The host pid of the init of the container whose PID namespace `rec` joins (an ephemeral
   * container's target): it must run now, or the new container would get a namespace of its
   * own without saying so.
   */
  private targetPid(rec: ContainerRecord): number | undefined {
    const targetId = rec.spec.pidNamespaceOf;
    if (targetId === undefined) return undefined;
    const target = this.containers.get(targetId);
    if (!target || target.sandboxId !== rec.sandboxId)
      throw invalidInput(
        `container ${targetId}, whose process namespace it joins, is not in its pod`,
      );
    if (
      target.status !== 'running' ||
      !target.init ||
      !isAlive(target.init) ||
      target.init.pid <= 0
    )
      throw conflict(
        `container ${target.spec.name}, whose process namespace it joins, is not running`,
      );
    return target.init.pid;
  }

  async attach(id: string, options: { stdin: boolean }): Promise<AttachSession> {
    await this.ready();
    const rec = this.get(id);
    const io = rec.spec.stdio;
    if (!hasStdio(io))
      throw conflict(
        `container ${id} was created without stdin or a terminal: nothing to attach to`,
      );
    if (options.stdin && !io?.stdin)
      throw invalidInput(`container ${id} was created without stdin: attach without it`);
    if (rec.status !== 'running') throw conflict(`container ${id} is not running`);
    return tetherAttach(this.layout.container(id).dir, options.stdin);
  }

  async stats(id: string): Promise<ContainerSample> {
    await this.ready();
    const rec = this.get(id);
    return containerSample(rec, this.layout.container(id));
  }

  async sandboxStats(id: string): Promise<SandboxUsage> {
    await this.ready();
    this.checkSandbox(id);
    return sandboxUsage(this.sandboxes.pauseOf(id));
  }

  async processes(id: string): Promise<number[]> {
    await this.ready();
    const rec = this.get(id);
    if (rec.status !== 'running') throw conflict(`container ${id} is not running`);
    return cgroupPids(id);
  }

  async statPath(id: string, path: string): Promise<PathStat> {
    return statInContainer(await this.archiveTarget(id), path);
  }

  async getArchive(id: string, path: string): Promise<Readable> {
    return archiveFromContainer(await this.archiveTarget(id), path);
  }

  async putArchive(id: string, dir: string, tar: Readable, keepOwner: boolean): Promise<void> {
    return extractIntoContainer(await this.archiveTarget(id), dir, tar, keepOwner);
  }

  /** A running container's init, for container-archive.ts. */
  private async archiveTarget(id: string): Promise<ArchiveTarget> {
    await this.ready();
    const rec = this.get(id);
    if (rec.status !== 'running' || rec.bootId !== this.boot)
      throw conflict(`container ${id} is not running: docker cp needs it running here`);
    return {
      helper: containerCpPath(this.tether),
      busybox: HOST_BUSYBOX,
      init: rec.init,
      id,
    };
  }

  async networkSettled(id: string): Promise<void> {
    await this.sandboxes.networkSettled(id);
  }

  async portForward(id: string, port: number): Promise<Duplex> {
    await this.ready();
    this.checkSandbox(id);
    return connectInNetns(netnsConnectPath(this.tether), this.sandboxes.pauseOf(id), port);
  }

  override async close(): Promise<void> {
    for (const w of this.watchers.values()) w.stop();
    this.watchers.clear();
    await super.close();
  }

  // --- what RuntimeBase asks of a backend ---------------------------------------------------

  protected checkSandbox(sandboxId: string): void {
    this.sandboxes.spec(sandboxId);
  }

  protected containerDirs(_sandboxId: string, id: string): ContainerDirs {
    const dirs = this.layout.container(id);
    return { ...dirs, owned: [dirs.dir] };
  }

  protected override async prepare(rec: RuncContainer): Promise<void> {
    const dirs = this.layout.container(rec.id);
    await mkdirInRoot(dirs.rootfs, rec.spec.process.cwd, rec.user).catch((e: Error) => {
      throw invalidInput(`cannot create working dir ${rec.spec.process.cwd}: ${e.message}`);
    });
  }

  protected async deliver(rec: RuncContainer, signo: number): Promise<void> {
    // Any other signal goes to the tether (the container's init), which forwards it: straight
    // from here, as `runc kill` would send it, without a runc process per stop.
    if (signo !== 9 && rec.init && rec.bootId === this.boot) {
      if (!isAlive(rec.init)) throw conflict(`container ${rec.id} is not running`);
      try {
        process.kill(rec.init.pid, signo);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH')
          throw conflict(`container ${rec.id} is not running`);
        throw e;
      }
    }
    // SIGKILL can only reach the tether itself; with a shared PID namespace its child would be
    // left running, so it goes to every process of the container.
    await this.runc
      .run(signo === 9 ? ['kill', '--all', rec.id, '9'] : ['kill', rec.id, String(signo)])
      .catch((e) => {
        if (e instanceof RuncError && /not running|stopped/.test(e.message))
          throw conflict(`container ${rec.id} is not running`);
        throw e;
      });
  }

  protected async runExec(rec: RuncContainer, proc: ExecProcess, io: ExecIo): Promise<number> {
    const byTether = await tetherExec(this.layout.container(rec.id).dir, rec.id, proc, io);
    if (byTether !== undefined) return byTether;
    // Beside the container's record, where the container cannot reach; gone once it has run.
    const base = `${this.layout.container(rec.id).dir}/exec-${randomBytes(8).toString('hex')}`;
    await writeJsonAtomic(`${base}.json`, execProcessConfig(proc, rec.spec.security));
    try {
      return await runcExec(this.runc, {
        id: rec.id,
        processFile: `${base}.json`,
        pidFile: `${base}.pid`,
        io,
      });
    } finally {
      await rm(`${base}.json`, { force: true });
      await rm(`${base}.pid`, { force: true });
    }
  }

  protected async runExecStream(
    rec: RuncContainer,
    proc: ExecProcess,
    options: ExecStreamOptions,
  ): Promise<ExecStream> {
    const base = `${this.layout.container(rec.id).dir}/exec-${randomBytes(8).toString('hex')}`;
    await writeJsonAtomic(
      `${base}.json`,
      execProcessConfig(proc, rec.spec.security, options.tty === true),
    );
    const forget = () => {
      void rm(`${base}.json`, { force: true });
      void rm(`${base}.pid`, { force: true });
    };
    try {
      return await runcExecStream(this.runc, {
        id: rec.id,
        processFile: `${base}.json`,
        pidFile: `${base}.pid`,
        stdin: options.stdin === true,
        ...(options.tty && { tty: { tether: this.tether, size: options.size } }),
        onExit: forget,
      });
    } catch (err) {
      forget();
      throw err;
    }
  }

  protected override async onRemove(rec: RuncContainer): Promise<void> {
    await this.runc.forget(rec.id);
  }

  protected override async terminationMessage(rec: RuncContainer): Promise<string | undefined> {
    return readTerminationLog(this.layout.container(rec.id).terminationLog);
  }

  protected override async onExited(rec: RuncContainer): Promise<void> {
    // runc's record of a stopped container (and its cgroup) is of no more use.
    await this.runc.forget(rec.id);
  }

  protected async load(): Promise<string[]> {
    await this.sandboxes.load();
    await mkdir(this.layout.containersDir, { recursive: true });
    for (const id of await readdir(this.layout.containersDir)) {
      const dirs = this.layout.container(id);
      const rec = await readJson<RuncContainer>(dirs.record);
      if (!rec || rec.id !== id) {
        // A createContainer cut short by a crash: nothing of it ever ran.
        this.log.warn({ container: id }, 'container directory without a record; removing it');
        await removeRootfs(dirs)
          .then(() => rm(dirs.dir, { recursive: true, force: true }))
          .catch((e: Error) => this.log.warn({ container: id, err: e.message }, 'cannot remove'));
        continue;
      }
      this.containers.set(id, rec);
      if (rec.status !== 'running') continue;
      if (rec.bootId === this.boot && rec.init && isAlive(rec.init)) {
        this.watch(rec);
        continue;
      }
      // Exited while we were away: its status says how, or it is lost (the host rebooted, or
      // the tether was killed with no one watching).
      const exit = (await readStatus(dirs.status)).exited;
      await this.settle(rec, this.outcome(rec, exit, 'Lost'));
    }
    this.log.info(
      { sandboxes: this.sandboxes.ids.length, containers: this.containers.size },
      'runtime state loaded',
    );
    return this.sandboxes.ids;
  }

  // --- exits ----------------------------------------------------------------------------------

  private watch(rec: RuncContainer): void {
    if (this.closed || !rec.init) return;
    this.watchers.get(rec.id)?.stop();
    const w = new ExitWatcher(this.layout.container(rec.id).status, rec.init, (exit) => {
      if (this.watchers.get(rec.id) === w) this.watchers.delete(rec.id);
      void this.lockedSettle(rec, async () => this.outcome(rec, exit, 'Killed'));
    });
    this.watchers.set(rec.id, w);
  }

  /**
   * As Docker: OOMKilled when the kernel killed any process of the container for memory,
   * whatever the main process's exit code says (a shell reports its killed child as 137).
   */
  private outcome(rec: RuncContainer, exit: ExitedRecord | undefined, reason: string) {
    return exitOutcome(exit, oomKilled(rec.id), reason);
  }
}
