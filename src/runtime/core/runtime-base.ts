// What both backends do the same way: the container records and their locks, create and remove
// around a copy-on-write rootfs, stop (signal, grace, SIGKILL), kill, wait, state, settling an
// exit once and waking its waiters, and loading the records once. A backend adds how a process
// is started and signalled, how its start and exit reach the host, and its sandboxes.
import { checkSysctls, sysctlNamespace } from '../sysctls.js';
import { mkdir, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { conflict, invalidInput, notFound, unavailable } from '../errors.js';
import { checkContainerSpec } from '../container-spec-check.js';
import type {
  ContainerSpec,
  ContainerState,
  ExecOptions,
  ExecResult,
  ExecSpec,
  ExecStream,
  ExecStreamOptions,
  SandboxSpec,
  StopOptions,
} from '../runtime.js';
import { parseSignal } from '../signals.js';
import { resolveUser } from '../user.js';
import { toState, type ContainerRecord, type ExitOutcome } from './container-record.js';
import {
  CappedOutput,
  checkExecSpec,
  checkTerminalSize,
  execProcess,
  outputLimit,
  type ExecIo,
  type ExecProcess,
} from './exec.js';
import { writeJsonAtomic } from './files.js';
import { validHostname, validId } from './ids.js';
import { KeyedLock } from './keyed-lock.js';
import { prepareRootfs, removeRootfs } from './rootfs.js';
import { releaseMounts } from './volume-mounts.js';
import { Waiters } from './waiters.js';

export interface Recovered {
  sandboxes: string[];
  containers: ContainerState[];
}

/** Where a backend keeps one container: its record, its rootfs and what to delete with it. */
export interface ContainerDirs {
  record: string;
  rootfs: string;
  upper: string;
  work: string;
  /** The directories that are the container's alone (removed with it), the record's first. */
  owned: string[];
  /** Where its volumes are bound on the host (volume-mounts.ts): unmounted before removal. */
  mounts: string;
}

export abstract class RuntimeBase<R extends ContainerRecord> {
  protected readonly containers = new Map<string, R>();
  protected readonly lock = new KeyedLock();
  protected readonly waiters = new Waiters();
  protected closed = false;
  private loading: Promise<Recovered> | undefined;

  protected constructor(protected readonly log: Logger) {}

  // --- what a backend provides ------------------------------------------------------------------

  /** Reads its records (filling `containers`), re-attaches, settles; returns its sandbox ids. */
  protected abstract load(): Promise<string[]>;
  /** Throws NotFound when there is no such sandbox. */
  protected abstract checkSandbox(sandboxId: string): void;
  protected abstract containerDirs(sandboxId: string, id: string): ContainerDirs;
  /** Sends a signal to the running container's process. */
  protected abstract deliver(rec: R, signo: number): Promise<void>;
  /**
   * Runs an exec's process in the running container, feeding its output to io, and resolves
   * with its exit code once it has exited (126/127 with the reason on stderr when it could not
   * be run). When io.kill aborts, the process is killed with SIGKILL.
   */
  protected abstract runExec(rec: R, proc: ExecProcess, io: ExecIo): Promise<number>;
  /** Starts an exec's process with streams (execStream); NotImplemented where it cannot. */
  protected abstract runExecStream(
    rec: R,
    proc: ExecProcess,
    options: ExecStreamOptions,
  ): Promise<ExecStream>;
  /** Backend work once a created container's record is written (vm: its log port). */
  protected async onCreated(_rec: R): Promise<void> {}
  /** Backend work before the record is written (runc: the working directory). */
  protected async prepare(_rec: R): Promise<void> {}
  /** Backend work before a removed container's directories go. */
  protected async onRemove(_rec: R): Promise<void> {}
  /**
   * The run's termination message (ContainerSpec.terminationMessagePath), read when it exits
   * (with safe-read.ts: the container wrote it). Undefined: none.
   */
  protected async terminationMessage(_rec: R): Promise<string | undefined> {
    return undefined;
  }
  /** Backend work after an exit is recorded (runc: its state in runc goes). */
  protected async onExited(_rec: R): Promise<void> {}

  // --- the Runtime interface ------------------------------------------------------------------

  async createContainer(sandboxId: string, spec: ContainerSpec): Promise<void> {
    await this.ready();
    if (!validId(spec.id)) throw invalidInput(`invalid container id ${JSON.stringify(spec.id)}`);
    this.checkSandbox(sandboxId);
    await checkContainerSpec(spec);
    this.checkBackendSpec(spec);
    await this.lock.run(spec.id, async () => {
      if (this.containers.has(spec.id)) throw conflict(`container ${spec.id} already exists`);
      const dirs = this.containerDirs(sandboxId, spec.id);
      for (const d of dirs.owned) await mkdir(d, { recursive: true });
      try {
        const rootfsMode = await prepareRootfs(spec.imageRootfs, dirs);
        const user = await resolveUser(dirs.rootfs, spec.process.user, spec.process.groups);
        const rec = { id: spec.id, sandboxId, spec, user, rootfsMode, status: 'created' } as R;
        await this.prepare(rec);
        await writeJsonAtomic(dirs.record, rec);
        this.containers.set(spec.id, rec);
        await this.onCreated(rec);
        this.log.info(
          { container: spec.id, sandbox: sandboxId, rootfs: rootfsMode },
          'container created',
        );
      } catch (e) {
        if (!this.containers.has(spec.id)) await this.removeDirs(dirs, true);
        throw e;
      }
    });
  }

  async stop(id: string, options: StopOptions = {}): Promise<ContainerState> {
    await this.ready();
    const rec = this.get(id);
    const signal = parseSignal(options.signal ?? rec.spec.stopSignal ?? 'SIGTERM');
    const graceMs = options.graceMs ?? 10_000;
    if (rec.status !== 'running') return toState(rec);
    await this.deliver(rec, signal).catch((e: Error) =>
      this.log.debug({ container: id, err: e.message }, 'stop signal not delivered'),
    );
    if (!(await this.waitExit(id, graceMs))) {
      this.log.info({ container: id, graceMs }, 'grace period over; SIGKILL');
      await this.deliver(rec, 9).catch(() => undefined);
      if (!(await this.waitExit(id, 10_000)))
        throw unavailable(`container ${id} did not exit after SIGKILL`);
    }
    return toState(this.get(id));
  }

  async kill(id: string, signal: string): Promise<void> {
    await this.ready();
    const n = parseSignal(signal);
    const rec = this.get(id);
    if (rec.status !== 'running') throw conflict(`container ${id} is not running`);
    await this.deliver(rec, n);
  }

  async wait(id: string, abort?: AbortSignal): Promise<ContainerState> {
    await this.ready();
    const rec = this.get(id);
    if (rec.status !== 'running') return toState(rec);
    if (this.closed) throw unavailable(`runtime closed; cannot wait for ${id}`);
    await this.waiters.add(id, abort);
    return toState(this.get(id));
  }

  async remove(id: string): Promise<void> {
    await this.ready();
    await this.lock.run(id, async () => {
      const rec = this.get(id);
      if (rec.status === 'running') throw conflict(`container ${id} is running; stop it first`);
      await this.onRemove(rec);
      // The log is the VCH's (spec.logPath, outside these directories): it stays.
      await this.removeDirs(this.containerDirs(rec.sandboxId, id));
      this.containers.delete(id);
      this.log.info({ container: id }, 'container removed');
    });
  }

  async state(id: string): Promise<ContainerState> {
    await this.ready();
    return toState(this.get(id));
  }

  async exec(id: string, spec: ExecSpec, options: ExecOptions = {}): Promise<ExecResult> {
    const limit = outputLimit(options.outputLimitBytes);
    const { rec, proc } = await this.execTarget(id, spec);
    const out = new CappedOutput(limit);
    const err = new CappedOutput(limit);
    const kill = new AbortController();
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            kill.abort();
          }, options.timeoutMs);
    const abort = () => kill.abort();
    options.signal?.addEventListener('abort', abort);
    try {
      options.signal?.throwIfAborted();
      const exitCode = await this.runExec(rec, proc, {
        stdout: (b) => out.push(b),
        stderr: (b) => err.push(b),
        kill: kill.signal,
      });
      options.signal?.throwIfAborted();
      return {
        exitCode,
        stdout: out.buffer,
        stderr: err.buffer,
        truncated: { stdout: out.truncated, stderr: err.truncated },
        timedOut,
      };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
    }
  }

  async execStream(id: string, spec: ExecSpec, options: ExecStreamOptions): Promise<ExecStream> {
    checkTerminalSize(options.size);
    const { rec, proc } = await this.execTarget(id, spec);
    return this.runExecStream(rec, proc, options);
  }

  /** The running container an exec goes to, and its process; the checks both kinds share. */
  private async execTarget(id: string, spec: ExecSpec): Promise<{ rec: R; proc: ExecProcess }> {
    await this.ready();
    checkExecSpec(spec);
    const rec = this.get(id);
    if (rec.status !== 'running') throw conflict(`container ${id} is not running`);
    if (this.closed) throw unavailable(`runtime closed; cannot exec in ${id}`);
    const user =
      spec.user === undefined
        ? rec.user
        : await resolveUser(this.containerDirs(rec.sandboxId, id).rootfs, spec.user);
    return { rec, proc: execProcess(rec.spec.process, spec, user) };
  }

  recover(): Promise<Recovered> {
    return this.ready();
  }

  /** Stops watching (the containers keep running); a waiter hears so rather than wait forever. */
  async close(): Promise<void> {
    this.closed = true;
    this.waiters.failAll((id) => unavailable(`runtime closed while waiting for ${id}`));
  }

  // --- for the backends -----------------------------------------------------------------------

  /** What this backend cannot run of a container spec that another can: InvalidInput. */
  protected checkBackendSpec(_spec: ContainerSpec): void {}

  protected checkSandboxSpec(spec: SandboxSpec): void {
    if (!validId(spec.id)) throw invalidInput(`invalid sandbox id ${JSON.stringify(spec.id)}`);
    if (!validHostname(spec.hostname))
      throw invalidInput(`invalid hostname ${JSON.stringify(spec.hostname)}`);
    checkSysctls(spec.sysctls);
    // A sysctl in a namespace the pod shares with the host would change the host's (the
    // kubelet's admission refuses them too).
    for (const name of Object.keys(spec.sysctls ?? {})) {
      const ns = sysctlNamespace(name);
      if ((ns === 'net' && spec.hostNetwork) || (ns === 'ipc' && spec.hostIPC))
        throw invalidInput(
          `sysctl ${name} is not allowed with host ${ns === 'net' ? 'net' : 'ipc'} enabled: it would change the host's`,
        );
    }
  }

  protected get(id: string): R {
    const rec = this.containers.get(id);
    if (!rec) throw notFound(`no such container ${id}`);
    return rec;
  }

  /** The containers of a sandbox (`running`: only those that run). */
  protected containersOf(sandboxId: string, running = false): R[] {
    return [...this.containers.values()].filter(
      (c) => c.sandboxId === sandboxId && (!running || c.status === 'running'),
    );
  }

  /** Resolves true once the container is not running, false when timeoutMs pass first. */
  protected async waitExit(id: string, timeoutMs: number): Promise<boolean> {
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

  /** Records that a running container has exited (once), then wakes whoever waits for it. */
  protected async settle(rec: R, outcome: ExitOutcome): Promise<void> {
    if (rec.status === 'exited') return;
    rec.status = 'exited';
    rec.exitCode = outcome.exitCode;
    rec.finishedAt = outcome.finishedAt;
    rec.reason = outcome.reason;
    rec.message = rec.spec.terminationMessagePath
      ? await this.terminationMessage(rec).catch(() => undefined)
      : undefined;
    rec.init = undefined;
    await writeJsonAtomic(this.containerDirs(rec.sandboxId, rec.id).record, rec);
    await this.onExited(rec).catch((e: Error) =>
      this.log.warn({ container: rec.id, err: e.message }, 'cleanup after exit'),
    );
    this.log.info(
      { container: rec.id, exitCode: rec.exitCode, reason: rec.reason },
      'container exited',
    );
    this.waiters.wake(rec.id);
  }

  /** settle() under the container's lock, for exits noticed outside any operation. */
  protected async lockedSettle(rec: R, outcome: () => Promise<ExitOutcome>): Promise<void> {
    try {
      await this.lock.run(rec.id, async () => {
        if (rec.status === 'running' && this.containers.get(rec.id) === rec)
          await this.settle(rec, await outcome());
      });
    } catch (e) {
      this.log.error({ container: rec.id, err: (e as Error).message }, 'recording the exit failed');
    }
  }

  protected writeRecord(rec: R): Promise<void> {
    return writeJsonAtomic(this.containerDirs(rec.sandboxId, rec.id).record, rec);
  }

  /** Loads the records once (the first call of any method); recover() reports what it found. */
  protected ready(): Promise<Recovered> {
    this.loading ??= this.load().then((sandboxes) => ({
      sandboxes,
      containers: [...this.containers.values()].map(toState),
    }));
    return this.loading;
  }

  /** `bestEffort`: after a failed create, whatever can go goes. */
  private async removeDirs(dirs: ContainerDirs, bestEffort = false): Promise<void> {
    await removeRootfs(dirs).catch((e: Error) => {
      if (!bestEffort) throw e;
    });
    // Never a recursive removal through a volume: if one stays mounted, this throws.
    await releaseMounts(dirs.mounts);
    for (const d of dirs.owned) await rm(d, { recursive: true, force: true });
  }
}
