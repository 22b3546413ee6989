// The runc backend: a pod sandbox is a pause process (the tether in --pause mode) holding the
// pod's network, IPC and UTS namespaces; each container is a runc container joining them, with
// the tether as its init writing the container's output straight to its log.
import { execFile } from 'node:child_process';
import { constants, readFileSync } from 'node:fs';
import { access, copyFile, mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { pino, type Logger } from 'pino';
import { formatTime } from '../../iolog/index.js';
import { conflict, invalidInput, notFound, unavailable } from '../errors.js';
import { mkdirInRoot } from '../in-root.js';
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
import { ExitWatcher, readExit, readStarted, type ExitStatus } from './exit-watch.js';
import { readJson, writeJsonAtomic } from './files.js';
import { KeyedLock } from './keyed-lock.js';
import { Layout, pauseId, validId } from './layout.js';
import { containerConfig, hostsFile, sandboxConfig, TETHER_IN_CONTAINER } from './oci-config.js';
import { bootId, identify, isAlive, type ProcessIdentity } from './proc.js';
import { prepareRootfs, removeRootfs, isMounted, type RootfsMode } from './rootfs.js';
import { Runc, RuncError } from './runc-cli.js';

const run = promisify(execFile);

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
}

interface SandboxRecord {
  id: string;
  spec: SandboxSpec;
  pause?: ProcessIdentity;
  bootId?: string;
}

interface ContainerRecord {
  id: string;
  sandboxId: string;
  spec: ContainerSpec;
  user: ResolvedUser;
  rootfsMode: RootfsMode;
  status: ContainerStatus;
  init?: ProcessIdentity;
  bootId?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  reason?: string;
}

const nsToTime = (ns: string | bigint) => formatTime(BigInt(ns));
const now = () => formatTime(BigInt(Date.now()) * 1_000_000n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RuncRuntime implements Runtime {
  readonly name = 'runc' as const;
  private readonly layout: Layout;
  private readonly runc: Runc;
  private readonly tether: string;
  private readonly log: Logger;
  private readonly startTimeoutMs: number;
  private readonly boot = bootId();
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly containers = new Map<string, ContainerRecord>();
  private readonly watchers = new Map<string, ExitWatcher>();
  private readonly waiters = new Map<string, Set<(err?: Error) => void>>();
  private readonly lock = new KeyedLock();
  private loading: Promise<{ sandboxes: string[]; containers: ContainerState[] }> | undefined;
  private closed = false;

  constructor(options: RuncRuntimeOptions & { tetherPath: string }) {
    this.layout = new Layout(options.stateDir);
    this.runc = new Runc(options.runcPath ?? 'runc', this.layout.runcRoot);
    this.tether = options.tetherPath;
    this.log = options.logger ?? pino({ level: 'silent' });
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
  }

  // --- sandboxes ------------------------------------------------------------------------------

  async createSandbox(spec: SandboxSpec): Promise<void> {
    await this.ready();
    if (!validId(spec.id)) throw invalidInput(`invalid sandbox id ${JSON.stringify(spec.id)}`);
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(spec.hostname))
      throw invalidInput(`invalid hostname ${JSON.stringify(spec.hostname)}`);
    await this.lock.run(spec.id, async () => {
      const existing = this.sandboxes.get(spec.id);
      if (existing?.pause && existing.bootId === this.boot && isAlive(existing.pause)) return;
      if (existing) return this.startPause(existing);
      // The record first: a crash from here on leaves a sandbox recover() finds, not a pause
      // process nobody knows of. A failure takes everything down again.
      const rec: SandboxRecord = { id: spec.id, spec };
      await mkdir(this.layout.sandbox(spec.id).dir, { recursive: true });
      await writeJsonAtomic(this.layout.sandbox(spec.id).record, rec);
      this.sandboxes.set(spec.id, rec);
      try {
        await this.startPause(rec);
      } catch (e) {
        await this.teardownSandbox(spec.id).catch((err: Error) =>
          this.log.warn({ sandbox: spec.id, err: err.message }, 'cleanup after failure'),
        );
        throw e;
      }
    });
  }

  async removeSandbox(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const rec = this.sandboxes.get(id);
      if (!rec) throw notFound(`no such sandbox ${id}`);
      const left = [...this.containers.values()].filter((c) => c.sandboxId === id);
      if (left.length > 0)
        throw conflict(`sandbox ${id} still has ${left.length} container(s); remove them first`);
      await this.teardownSandbox(id);
      this.log.info({ sandbox: id }, 'sandbox removed');
    });
  }

  /** Kills the pause process, unmounts the pod's shm, deletes the sandbox's directory. */
  private async teardownSandbox(id: string): Promise<void> {
    const dirs = this.layout.sandbox(id);
    await this.runc.run(['delete', '--force', pauseId(id)]).catch(() => undefined);
    if (isMounted(dirs.shm))
      await run('umount', [dirs.shm]).catch(() => run('umount', ['-l', dirs.shm]));
    if (isMounted(dirs.shm)) throw unavailable(`cannot unmount ${dirs.shm}`);
    await rm(dirs.dir, { recursive: true, force: true });
    this.sandboxes.delete(id);
  }

  /** (Re)starts the sandbox's pause process: new namespaces, hostname, shm. */
  private async startPause(rec: SandboxRecord): Promise<void> {
    await this.checkTether();
    const dirs = this.layout.sandbox(rec.id);
    for (const d of [dirs.rootfs, dirs.shm, dirs.bundle]) await mkdir(d, { recursive: true });
    if (!isMounted(dirs.shm)) {
      await run('mount', [
        '-t',
        'tmpfs',
        '-o',
        'nosuid,nodev,noexec,mode=1777,size=65536k',
        'shm',
        dirs.shm,
      ]).catch((e) => {
        throw unavailable(`cannot mount the sandbox's /dev/shm: ${(e as Error).message}`, e);
      });
    }
    await writeFile(dirs.hostname, rec.spec.hostname + '\n');
    await writeFile(dirs.hosts, hostsFile(rec.spec.hostname));
    await copyFile('/etc/resolv.conf', dirs.resolvConf).catch(() => writeFile(dirs.resolvConf, ''));
    await writeJsonAtomic(
      `${dirs.bundle}/config.json`,
      sandboxConfig({
        id: rec.id,
        hostname: rec.spec.hostname,
        rootfs: dirs.rootfs,
        tether: this.tether,
      }),
    );
    const rid = pauseId(rec.id);
    await this.runc.run(['delete', '--force', rid]).catch(() => undefined);
    const pidFile = `${dirs.dir}/pause.pid`;
    await this.runc.create({ id: rid, bundle: dirs.bundle, pidFile, consoleLog: dirs.runcLog });
    await this.runc.run(['start', rid]);
    const pause = identify(await this.readPid(pidFile, dirs.runcLog));
    // runc start reports success before its init has exec'd the tether; an exec that fails
    // (a broken tether) shows only as an init that dies instead of becoming the tether.
    if (!pause || !(await this.becomes(pause, TETHER_IN_CONTAINER)))
      throw unavailable(`the sandbox's pause process did not start (see ${dirs.runcLog})`);
    rec.pause = pause;
    rec.bootId = this.boot;
    await writeJsonAtomic(dirs.record, rec);
    this.sandboxes.set(rec.id, rec);
    this.log.info({ sandbox: rec.id, pid: pause.pid }, 'sandbox started');
  }

  /** The sandbox's live pause process; restarts it when it is gone and nothing uses it. */
  private async livePause(sandboxId: string): Promise<ProcessIdentity> {
    const sb = this.sandboxes.get(sandboxId);
    if (!sb) throw notFound(`no such sandbox ${sandboxId}`);
    if (sb.pause && sb.bootId === this.boot && isAlive(sb.pause)) return sb.pause;
    const running = [...this.containers.values()].some(
      (c) => c.sandboxId === sandboxId && c.status === 'running',
    );
    if (running)
      throw unavailable(`sandbox ${sandboxId} lost its namespaces while containers run in it`);
    this.log.warn({ sandbox: sandboxId }, 'pause process gone; starting a new one');
    await this.lock.run(sandboxId, () => this.startPause(sb));
    return sb.pause!;
  }

  // --- containers -----------------------------------------------------------------------------

  async createContainer(sandboxId: string, spec: ContainerSpec): Promise<void> {
    await this.ready();
    if (!validId(spec.id)) throw invalidInput(`invalid container id ${JSON.stringify(spec.id)}`);
    if (!this.sandboxes.has(sandboxId)) throw notFound(`no such sandbox ${sandboxId}`);
    await checkContainerSpec(spec);
    await this.lock.run(spec.id, async () => {
      if (this.containers.has(spec.id)) throw conflict(`container ${spec.id} already exists`);
      const dirs = this.layout.container(spec.id);
      await mkdir(dirs.status, { recursive: true });
      try {
        const rootfsMode = await prepareRootfs(spec.imageRootfs, dirs);
        const user = await resolveUser(dirs.rootfs, spec.process.user);
        await mkdirInRoot(dirs.rootfs, spec.process.cwd, user).catch((e: Error) => {
          throw invalidInput(`cannot create working dir ${spec.process.cwd}: ${e.message}`);
        });
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
        this.log.info(
          { container: spec.id, sandbox: sandboxId, rootfs: rootfsMode },
          'container created',
        );
      } catch (e) {
        await removeRootfs(dirs).catch(() => undefined);
        await rm(dirs.dir, { recursive: true, force: true });
        throw e;
      }
    });
  }

  async start(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const rec = this.get(id);
      if (rec.status === 'running') throw conflict(`container ${id} is already running`);
      const sb = this.sandboxes.get(rec.sandboxId)!;
      const pause = await this.livePause(rec.sandboxId);
      const dirs = this.layout.container(id);
      const sdirs = this.layout.sandbox(rec.sandboxId);
      // A restart: the previous run's runc state and status files go; rootfs and log stay.
      await this.runc.run(['delete', '--force', id]).catch(() => undefined);
      await rm(`${dirs.status}/exit.json`, { force: true });
      await rm(`${dirs.status}/started.json`, { force: true });
      await prepareRootfs(rec.spec.imageRootfs, dirs, rec.rootfsMode);
      await mkdir(dirs.bundle, { recursive: true });
      await writeJsonAtomic(
        `${dirs.bundle}/config.json`,
        containerConfig({
          id,
          rootfs: dirs.rootfs,
          process: rec.spec.process,
          user: rec.user,
          tether: this.tether,
          statusDir: dirs.status,
          pausePid: pause.pid,
          sharePid: sb.spec.shareProcessNamespace === true,
          sandbox: sdirs,
          memoryLimitBytes: rec.spec.memoryLimitBytes,
          cpuMillis: rec.spec.cpuMillis,
          labels: rec.spec.labels,
        }),
      );
      await mkdir(dirname(rec.spec.logPath), { recursive: true });
      const logFile = await open(
        rec.spec.logPath,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
        0o640,
      );
      const pidFile = `${dirs.dir}/init.pid`;
      try {
        await this.runc.create({
          id,
          bundle: dirs.bundle,
          pidFile,
          consoleLog: dirs.runcLog,
          extraFds: [logFile.fd],
        });
      } finally {
        await logFile.close();
      }
      const init = identify(await this.readPid(pidFile, dirs.runcLog));
      await this.runc.run(['start', id]);
      if (!init)
        throw unavailable(`container ${id} exited before it started (see ${dirs.runcLog})`);
      rec.init = init;
      rec.bootId = this.boot;
      rec.status = 'running';
      rec.startedAt = now();
      rec.finishedAt = rec.exitCode = rec.reason = undefined;
      // Running once the tether says the process has exec'd (or that it could not).
      const until = Date.now() + this.startTimeoutMs;
      for (;;) {
        const started = await readStarted(dirs.status);
        if (started) {
          rec.startedAt = nsToTime(started.startedNs);
          break;
        }
        let exit = await readExit(dirs.status);
        if (exit || !isAlive(init)) {
          exit ??= await readExit(dirs.status);
          await this.settle(rec, exit);
          if (exit?.error) throw invalidInput(exit.error);
          // Dead without a word from the tether: it never ran (or was killed at once).
          if (!exit)
            throw unavailable(`container ${id} died before its init ran (see ${dirs.runcLog})`);
          return;
        }
        if (Date.now() > until) break; // running as far as runc knows; the watcher takes over
        await sleep(10);
      }
      await writeJsonAtomic(dirs.record, rec);
      this.watch(rec);
      this.log.info({ container: id, pid: init.pid }, 'container started');
    });
  }

  async stop(id: string, options: StopOptions = {}): Promise<ContainerState> {
    await this.ready();
    const rec = this.get(id);
    const signal = parseSignal(options.signal ?? rec.spec.stopSignal ?? 'SIGTERM');
    const graceMs = options.graceMs ?? 10_000;
    if (rec.status !== 'running') return this.toState(rec);
    await this.runc
      .run(signal === 9 ? ['kill', '--all', id, '9'] : ['kill', id, String(signal)])
      .catch((e) =>
        this.log.debug({ container: id, err: (e as Error).message }, 'stop signal not delivered'),
      );
    if (!(await this.waitExit(id, graceMs))) {
      this.log.info({ container: id, graceMs }, 'grace period over; SIGKILL');
      await this.runc.run(['kill', '--all', id, 'KILL']).catch(() => undefined);
      if (!(await this.waitExit(id, 10_000))) {
        throw unavailable(`container ${id} did not exit after SIGKILL`);
      }
    }
    return this.toState(this.get(id));
  }

  async kill(id: string, signal: string): Promise<void> {
    await this.ready();
    const n = parseSignal(signal);
    const rec = this.get(id);
    if (rec.status !== 'running') throw conflict(`container ${id} is not running`);
    // SIGKILL can only reach the tether itself; with a shared PID namespace its child would be
    // left running, so it goes to every process of the container.
    await this.runc
      .run(n === 9 ? ['kill', '--all', id, '9'] : ['kill', id, String(n)])
      .catch((e) => {
        if (e instanceof RuncError && /not running|stopped/.test(e.message))
          throw conflict(`container ${id} is not running`);
        throw e;
      });
  }

  async wait(id: string, abort?: AbortSignal): Promise<ContainerState> {
    await this.ready();
    const rec = this.get(id);
    if (rec.status !== 'running') return this.toState(rec);
    if (this.closed) throw unavailable(`runtime closed; cannot wait for ${id}`);
    await new Promise<void>((resolve, reject) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const onAbort = () => {
        set.delete(done);
        reject(abort!.reason ?? new Error('aborted'));
      };
      const done = (err?: Error) => {
        abort?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
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
      const dirs = this.layout.container(id);
      await this.runc.run(['delete', '--force', id]).catch(() => undefined);
      await removeRootfs(dirs);
      // The log is the VCH's (spec.logPath, outside this directory): it stays.
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
    for (const w of this.watchers.values()) w.stop();
    this.watchers.clear();
    // Nobody will see these exit now: a waiter hears so rather than wait forever.
    for (const [id, set] of this.waiters) {
      for (const done of set) done(unavailable(`runtime closed while waiting for ${id}`));
    }
    this.waiters.clear();
  }

  // --- state ----------------------------------------------------------------------------------

  private get(id: string): ContainerRecord {
    const rec = this.containers.get(id);
    if (!rec) throw notFound(`no such container ${id}`);
    return rec;
  }

  private toState(rec: ContainerRecord): ContainerState {
    const s: ContainerState = { id: rec.id, status: rec.status };
    if (rec.status === 'running' && rec.init) s.pid = rec.init.pid;
    if (rec.startedAt) s.startedAt = rec.startedAt;
    if (rec.status === 'exited') {
      if (rec.finishedAt) s.finishedAt = rec.finishedAt;
      if (rec.exitCode !== undefined) s.exitCode = rec.exitCode;
      if (rec.reason) s.reason = rec.reason;
    }
    return s;
  }

  /** Resolves true once the container is not running, false when timeoutMs pass first. */
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

  /** Whether the process comes to run `argv0` (within 5 s) rather than exit. */
  private async becomes(p: ProcessIdentity, argv0: string): Promise<boolean> {
    const until = Date.now() + 5000;
    while (Date.now() < until && isAlive(p)) {
      const cmd = await readFile(`/proc/${p.pid}/cmdline`, 'latin1').catch(() => '');
      if (cmd.split('\0')[0] === argv0) return true;
      await sleep(5);
    }
    return false;
  }

  /** The init's pid as runc wrote it; Unavailable when runc left none. */
  private async readPid(pidFile: string, log: string): Promise<number> {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (!Number.isSafeInteger(pid) || pid <= 0) throw unavailable(`runc wrote no pid (see ${log})`);
    return pid;
  }

  private watch(rec: ContainerRecord): void {
    if (this.closed || !rec.init) return;
    this.watchers.get(rec.id)?.stop();
    const w = new ExitWatcher(this.layout.container(rec.id).status, rec.init, (exit) => {
      if (this.watchers.get(rec.id) === w) this.watchers.delete(rec.id);
      void this.lockedSettle(rec.id, rec, exit);
    });
    this.watchers.set(rec.id, w);
  }

  private async lockedSettle(id: string, rec: ContainerRecord, exit: ExitStatus | undefined) {
    try {
      await this.lock.run(id, () => this.settle(rec, exit));
    } catch (e) {
      this.log.error({ container: id, err: (e as Error).message }, 'recording the exit failed');
    }
  }

  /**
   * Records that the container has exited: from the tether's exit status, or without one as
   * killed (the tether itself got SIGKILL while watched) or lost (found gone after a restart).
   */
  private async settle(
    rec: ContainerRecord,
    exit: ExitStatus | undefined,
    lost = false,
  ): Promise<void> {
    if (rec.status === 'exited') return;
    const dirs = this.layout.container(rec.id);
    rec.status = 'exited';
    // As Docker: OOMKilled when the kernel killed any process of the container for memory,
    // whatever the main process's exit code says (a shell reports its killed child as 137).
    const oom = this.oomKilled(rec.id);
    if (exit) {
      rec.exitCode = exit.exitCode;
      rec.finishedAt = nsToTime(exit.finishedNs);
      rec.reason = oom ? 'OOMKilled' : undefined;
    } else {
      rec.exitCode = lost ? 255 : 137;
      rec.finishedAt = now();
      rec.reason = oom ? 'OOMKilled' : lost ? 'Lost' : 'Killed';
    }
    await writeJsonAtomic(dirs.record, rec);
    // runc's record of a stopped container (and its cgroup) is of no more use.
    await this.runc.run(['delete', '--force', rec.id]).catch(() => undefined);
    this.log.info(
      { container: rec.id, exitCode: rec.exitCode, reason: rec.reason },
      'container exited',
    );
    const set = this.waiters.get(rec.id);
    this.waiters.delete(rec.id);
    for (const done of set ?? []) done();
  }

  /** Whether the kernel's OOM killer struck in the container's memory cgroup (cgroup v1). */
  private oomKilled(id: string): boolean {
    try {
      const text = readFileSync(
        `/sys/fs/cgroup/memory/vic-kubelet/${id}/memory.oom_control`,
        'utf8',
      );
      return Number(/oom_kill (\d+)/.exec(text)?.[1] ?? 0) > 0;
    } catch {
      return false;
    }
  }

  private async checkTether(): Promise<void> {
    try {
      await access(this.tether, constants.X_OK);
    } catch {
      throw unavailable(`the tether ${this.tether} is missing: run npm run build`);
    }
  }

  /** Loads the records once (the first call of any method); recover() reports what it found. */
  private ready(): Promise<{ sandboxes: string[]; containers: ContainerState[] }> {
    this.loading ??= this.load();
    return this.loading;
  }

  private async load(): Promise<{ sandboxes: string[]; containers: ContainerState[] }> {
    await mkdir(this.layout.sandboxesDir, { recursive: true });
    await mkdir(this.layout.containersDir, { recursive: true });
    for (const id of await readdir(this.layout.sandboxesDir)) {
      const rec = await readJson<SandboxRecord>(this.layout.sandbox(id).record);
      if (rec && rec.id === id) this.sandboxes.set(id, rec);
      else {
        // Records are written atomically, first thing: this is a create cut short by a crash.
        this.log.warn({ sandbox: id }, 'sandbox directory without a record; removing it');
        await this.teardownSandbox(id).catch((e: Error) =>
          this.log.warn({ sandbox: id, err: e.message }, 'cannot remove'),
        );
      }
    }
    for (const id of await readdir(this.layout.containersDir)) {
      const rec = await readJson<ContainerRecord>(this.layout.container(id).record);
      if (!rec || rec.id !== id) {
        // A createContainer cut short by a crash: nothing of it ever ran.
        this.log.warn({ container: id }, 'container directory without a record; removing it');
        const dirs = this.layout.container(id);
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
      await this.settle(rec, await readExit(this.layout.container(id).status), true);
    }
    const result = {
      sandboxes: [...this.sandboxes.keys()],
      containers: [...this.containers.values()].map((c) => this.toState(c)),
    };
    this.log.info(
      { sandboxes: result.sandboxes.length, containers: result.containers.length },
      'runtime state loaded',
    );
    return result;
  }
}
