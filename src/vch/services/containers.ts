// Containers' lifecycle: create (in a pod, or with a sandbox of its own), start, stop, restart,
// kill, wait, remove, and the answers of inspect and list. Operations on one container are
// serialized; the database write of a state change happens before its event is emitted.
import { mkdir, writeFile } from 'node:fs/promises';
import { type ContainerRow, type PodRow, stateOf, type VchDb } from '../db.js';
import { conflict, errorKind, invalidInput } from '../errors.js';
import { checkName, generateName, newId } from '../names.js';
import { mergeProcess, processSpec } from '../process.js';
import { matchesFilter } from '../container-filter.js';
import type {
  ContainerConfig,
  ContainerFilter,
  ContainerInfo,
  CreateContainerRequest,
  RemoveRequest,
  StopRequest,
  VchEvent,
  WaitCondition,
  WaitResult,
} from '../types.js';
import { type VchContext, nowIso } from './context.js';
import type { ImageService } from './images.js';
import { checkNameFree, findContainer, findPod } from './lookup.js';
import { createSandbox, implicitPod, removeSandbox } from './pods.js';
import type { Watchers } from './watchers.js';
import { checkPublishedPorts } from '../network/ports.js';
import { mergeExposedPorts, publishAll } from '../network/exposed-ports.js';
import { HostPortAllocator } from '../network/host-port-allocator.js';
import type { PublishedPort } from '../../runtime/runtime.js';
import { resolveMounts } from '../volumes/container-mounts.js';
import type { VolumeService } from '../volumes/volume-service.js';
import {
  keepPreviousLog,
  keepPreviousRun,
  logPerInstance,
  type PreviousRun,
  readPreviousRun,
} from './previous-log.js';

export class ContainerService {
  /** Picks the host ports asked for as 0 (Docker's -P, -p CONTAINER). */
  private readonly hostPorts = new HostPortAllocator();
  /** Each pod task's previous run as recorded beside its previous log, read once (or none). */
  readonly #previous = new Map<string, PreviousRun | null>();

  constructor(
    private readonly ctx: VchContext,
    private readonly images: ImageService,
    private readonly watchers: Watchers,
    private readonly volumes: VolumeService,
  ) {}

  /** Creates a container (and, without `podId`, a sandbox of its own). Not started. */
  async create(req: CreateContainerRequest): Promise<ContainerInfo> {
    const { ctx } = this;
    const { db, runtime } = ctx;
    ctx.ensureOpen();
    const image = await this.images.resolve(req.image);
    const imageConfig = await this.images.processConfig(image);
    const proc = mergeProcess(imageConfig, req);
    const id = newId();
    const name =
      req.name !== undefined && req.name !== ''
        ? checkName(req.name)
        : generateName((n) => db.containerByName(n) !== undefined);
    checkNameFree(db, name);
    if (req.podId !== undefined && req.sysctls && Object.keys(req.sysctls).length > 0)
      throw invalidInput("sysctls are the pod's: give them when the pod is created");
    if (req.podId !== undefined && req.names)
      throw invalidInput(
        "DNS and /etc/hosts settings are the pod's: give them when the pod is created",
      );
    // Docker's exposed ports (the image's too), and -P's bindings on top of -p's.
    const exposedPorts = mergeExposedPorts(
      imageConfig.ExposedPorts,
      req.exposedPorts,
      req.ports ?? [],
    );
    const wanted = req.publishAllPorts
      ? publishAll(req.ports ?? [], exposedPorts)
      : (req.ports ?? []);
    const checkPorts = (ports: PublishedPort[], anyHostPort: boolean) =>
      checkPublishedPorts(
        ports,
        {
          network: ctx.network !== undefined,
          joinsPod: req.podId !== undefined,
          // Every pod read only when there are ports to check (each create read them all).
          taken: ports.length
            ? db.pods().map((p) => ({ pod: p.name, ports: p.spec.ports ?? [] }))
            : [],
        },
        anyHostPort,
      );
    checkPorts(wanted, true);
    // Host port 0: one the VCH picks, kept in the pod's spec for the pod's life.
    const ports = await this.hostPorts.allocate(
      wanted,
      wanted.some((p) => p.hostPort === 0) ? db.pods().flatMap((p) => p.spec.ports ?? []) : [],
    );
    const pod: PodRow =
      req.podId !== undefined
        ? findPod(db, req.podId)
        : implicitPod(runtime, id, { ...req, ports });
    const pidNamespaceOf = targetOf(db, pod, req);
    const mounts = await resolveMounts(this.volumes, req.mounts ?? [], pod.id, id);
    const row: ContainerRow = {
      id,
      name,
      nameInPod: req.nameInPod ?? name,
      podId: pod.id,
      config: {
        ...containerConfigOf(req),
        ...(exposedPorts.length > 0 && { exposedPorts }),
        ...(mounts.stored.length > 0 && { mounts: mounts.stored }),
      },
      imageReference: image.reference,
      imageId: image.configDigest,
      process: proc,
      created: nowIso(),
      status: 'created',
      restartCount: 0,
    };
    // The database first: a crash before the runtime has the container leaves a row that the
    // next start marks exited ("Lost"), never a container the VCH does not know.
    try {
      db.transaction(() => {
        checkNameFree(db, name);
        // Again here, where no other create can come between the check and the record.
        checkPorts(ports, false);
        if (pod.implicit) db.insertPod(pod);
        db.insertContainer(row);
      });
    } catch (e) {
      for (const v of mounts.created) await this.volumes.remove(v).catch(() => {});
      throw e;
    }
    const logPath = ctx.logPath(id);
    try {
      await mkdir(ctx.containerDir(id), { recursive: true });
      await writeFile(logPath, '', { flag: 'a' });
      if (pod.implicit) await createSandbox(runtime, pod);
      await runtime.createContainer(pod.id, {
        id,
        name: row.nameInPod,
        imageRootfs: await this.images.store.layerDirs(image),
        process: { ...processSpec(proc), ...(req.groupAdd?.length && { groups: req.groupAdd }) },
        logPath,
        stopSignal: proc.stopSignal,
        ...(req.memoryLimitBytes !== undefined && { memoryLimitBytes: req.memoryLimitBytes }),
        ...(req.cpuMillis !== undefined && { cpuMillis: req.cpuMillis }),
        ...(req.labels && { labels: req.labels }),
        ...(req.security && { security: req.security }),
        ...(req.terminationMessagePath && { terminationMessagePath: req.terminationMessagePath }),
        ...(mounts.runtime.length > 0 && { mounts: mounts.runtime }),
        ...(pidNamespaceOf && { pidNamespaceOf }),
        ...((req.stdin || req.tty) && {
          stdio: {
            stdin: req.stdin === true,
            stdinOnce: req.stdinOnce === true,
            tty: req.tty === true,
          },
        }),
      });
    } catch (e) {
      db.transaction(() => {
        db.deleteContainer(id);
        if (pod.implicit) db.deletePod(pod.id);
      });
      for (const v of mounts.created) await this.volumes.remove(v).catch(() => {});
      if (pod.implicit) await runtime.removeSandbox(pod.id).catch(() => {});
      await ctx.removeContainerDir(id);
      throw e;
    }
    ctx.emit('container', 'create', id, { name, image: req.image });
    return this.#info(db.container(id)!);
  }

  /** Starts a created or exited container; false if it was running already. */
  async start(ref: string): Promise<boolean> {
    const { ctx } = this;
    const { db, runtime } = ctx;
    const id = findContainer(db, ref).id;
    return ctx.serial(id, async () => {
      const row = findContainer(db, id);
      if (row.status === 'running') return false;
      const restart = row.status === 'exited' || row.startedAt !== undefined;
      try {
        if (restart && logPerInstance(row.config.labels)) {
          await keepPreviousLog(ctx.logPath(id));
          // Its end, for the pod's lastState after a restart of the VCH or the node.
          const run: PreviousRun = {
            ...(row.startedAt !== undefined && { startedAt: row.startedAt }),
            ...(row.finishedAt !== undefined && { finishedAt: row.finishedAt }),
            ...(row.exitCode !== undefined && { exitCode: row.exitCode }),
            ...(row.error !== undefined && { error: row.error }),
            ...(row.terminationMessage !== undefined && {
              terminationMessage: row.terminationMessage,
            }),
          };
          await keepPreviousRun(ctx.logPath(id), run);
          this.#previous.set(id, run);
        }
        await runtime.start(id);
      } catch (e) {
        // Docker keeps the failure on the container (State.Error) with a shell's exit code:
        // 127 for a command not found, 126 for one that cannot be run, else 128.
        const message = (e as Error).message;
        const exitCode = /not found|no such file/i.test(message)
          ? 127
          : /permission denied|not executable/i.test(message)
            ? 126
            : 128;
        db.updateState(id, { ...stateOf(row), error: message, exitCode }, row.restartCount);
        this.watchers.recordStartFailure(id, exitCode);
        throw e;
      }
      const st = await runtime.state(id).catch(() => undefined);
      this.watchers.notePid(id, st?.pid);
      db.updateState(
        id,
        { status: 'running', startedAt: st?.startedAt ?? nowIso() },
        row.restartCount + (restart ? 1 : 0),
      );
      ctx.emit('container', 'start', id, { name: row.name });
      this.watchers.watch(id);
      // The container may have exited between start and our watcher: the watcher records it.
      return true;
    });
  }

  /**
   * Stops a running container: its stop signal (or `signal`), then SIGKILL after the timeout.
   * False if it was not running.
   */
  async stop(ref: string, req: StopRequest = {}): Promise<boolean> {
    const { ctx } = this;
    const id = findContainer(ctx.db, ref).id;
    return ctx.serial(id, async () => {
      const row = findContainer(ctx.db, id);
      if (row.status !== 'running') return false;
      const timeout = req.timeoutSeconds ?? row.process.stopTimeout;
      const st = await ctx.runtime.stop(id, {
        signal: req.signal ?? row.process.stopSignal,
        graceMs: Math.max(0, timeout) * 1000,
      });
      this.watchers.recordExit(id, st);
      ctx.emit('container', 'stop', id, { name: row.name });
      return true;
    });
  }

  /** Stops the container if it runs, then starts it again (`docker restart`). */
  async restart(ref: string, req: StopRequest = {}): Promise<void> {
    await this.stop(ref, req);
    await this.start(ref);
  }

  /** Sends a signal (default SIGKILL) to a running container; Conflict if it is not running. */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const row = findContainer(this.ctx.db, ref);
    if (row.status !== 'running') throw conflict(`container ${row.id} is not running`);
    await this.ctx.runtime.kill(row.id, signal);
    this.ctx.emit('container', 'kill', row.id, { name: row.name, signal });
  }

  /** Waits for a condition of a container; `abort` gives up (rejects with the abort reason). */
  async wait(
    ref: string,
    condition: WaitCondition = 'not-running',
    abort?: AbortSignal,
  ): Promise<WaitResult> {
    const { db } = this.ctx;
    const row = findContainer(db, ref);
    const id = row.id;
    if (condition === 'not-running' && row.status !== 'running') return waitResult(row);
    const action = condition === 'removed' ? 'destroy' : 'die';
    let lastExit: WaitResult = waitResult(row);
    return new Promise<WaitResult>((resolve, reject) => {
      const onEvent = (e: VchEvent) => {
        if (e.action === 'die') {
          const r = db.container(id);
          if (r) lastExit = waitResult(r);
        }
        if (e.action === action || e.action === 'destroy') {
          cleanup();
          resolve(lastExit);
        }
      };
      const onAbort = () => {
        cleanup();
        reject(abort!.reason ?? new Error('aborted'));
      };
      const unwatch = this.ctx.watchContainer(id, onEvent);
      const cleanup = () => {
        unwatch();
        abort?.removeEventListener('abort', onAbort);
      };
      if (abort?.aborted) return onAbort();
      abort?.addEventListener('abort', onAbort, { once: true });
      // The state may have changed before we listened (the row was read above).
      const now = db.container(id);
      if (!now && condition === 'removed') {
        cleanup();
        resolve(lastExit);
      } else if (condition === 'not-running' && now && now.status !== 'running') {
        cleanup();
        resolve(waitResult(now));
      }
    });
  }

  /** Removes a container (and its own sandbox, and its log). Conflict if running unless forced. */
  async remove(ref: string, req: RemoveRequest = {}): Promise<void> {
    const { ctx } = this;
    const { db, runtime } = ctx;
    const id = findContainer(db, ref).id;
    return ctx.serial(id, async () => {
      const row = findContainer(db, id);
      if (row.status === 'running') {
        if (!req.force)
          throw conflict(
            `cannot remove container "/${row.name}": container is running: stop the container before removing or force remove`,
          );
        const st = await runtime.stop(id, { signal: 'SIGKILL', graceMs: 0 });
        this.watchers.recordExit(id, st);
      }
      this.watchers.unwatch(id);
      await runtime.remove(id).catch((e: unknown) => {
        if (errorKind(e) !== 'NotFound') throw e;
      });
      const pod = db.pod(row.podId);
      db.transaction(() => db.deleteContainer(id));
      if (pod?.implicit) {
        await removeSandbox(runtime, pod.id);
        db.deletePod(pod.id);
        await this.volumes.removeOwnedBy(pod);
      }
      await ctx.removeContainerDir(id);
      this.#previous.delete(id);
      ctx.emit('container', 'destroy', id, { name: row.name });
      this.images.release(row.imageId, `container ${id}`);
    });
  }

  /** One container by id, unique id prefix or name. */
  async inspect(ref: string): Promise<ContainerInfo> {
    const row = findContainer(this.ctx.db, ref);
    // Its address, when its pod's attachment is under way (docker create, then inspect).
    await this.ctx.runtime.networkSettled?.(row.podId);
    return this.#info(findContainer(this.ctx.db, row.id));
  }

  /** Containers matching the filter, newest first. */
  async list(filter: ContainerFilter = {}): Promise<ContainerInfo[]> {
    // A pod's containers through the index: the portlayer asks this on every request, and a
    // scan parses every container of the VCH.
    const candidates =
      filter.podId !== undefined
        ? this.ctx.db.containersOfPod(filter.podId)
        : this.ctx.db.containers();
    const rows = candidates.filter((r) => matchesFilter(r, filter));
    return rows.map((r) => this.#info(r));
  }

  /** `{ previousRun }` of a restarted pod task, when one was recorded. */
  #previousRun(r: ContainerRow): { previousRun?: PreviousRun } {
    if (!logPerInstance(r.config.labels)) return {};
    let run = this.#previous.get(r.id);
    if (run === undefined) {
      run = readPreviousRun(this.ctx.logPath(r.id)) ?? null;
      this.#previous.set(r.id, run);
    }
    return run ? { previousRun: run } : {};
  }

  #info(r: ContainerRow): ContainerInfo {
    const pod = this.ctx.db.pod(r.podId);
    const pid = r.status === 'running' ? this.watchers.pid(r.id) : undefined;
    return {
      id: r.id,
      name: r.name,
      nameInPod: r.nameInPod,
      podId: r.podId,
      ownPod: pod?.implicit ?? false,
      config: r.config,
      imageReference: r.imageReference,
      imageId: r.imageId,
      path: r.process.path,
      args: r.process.args,
      env: r.process.env,
      workingDir: r.process.workingDir,
      user: r.process.user,
      stopSignal: r.process.stopSignal,
      created: r.created,
      status: r.status,
      ...(pid !== undefined && { pid }),
      ...(r.startedAt !== undefined && { startedAt: r.startedAt }),
      ...(r.finishedAt !== undefined && { finishedAt: r.finishedAt }),
      ...(r.exitCode !== undefined && { exitCode: r.exitCode }),
      ...(r.error !== undefined && { error: r.error }),
      ...(r.terminationMessage !== undefined && { terminationMessage: r.terminationMessage }),
      restartCount: r.restartCount,
      ...(r.restartCount > 0 && this.#previousRun(r)),
      logPath: this.ctx.logPath(r.id),
      runtime: pod?.runtime ?? 'runc',
      ...this.ctx.networkOf(r.podId),
    };
  }
}

function waitResult(r: ContainerRow): WaitResult {
  return {
    exitCode: r.exitCode ?? 0,
    ...(r.error !== undefined && { error: r.error }),
  };
}

/** The configuration part of a create request, without the placement (name, pod). */
/**
 * The id of the container of the same pod whose PID namespace a new one joins
 * (`pidNamespaceOf`, Kubernetes' targetContainerName); InvalidInput when that cannot be.
 */
function targetOf(db: VchDb, pod: PodRow, req: CreateContainerRequest): string | undefined {
  const name = req.pidNamespaceOf;
  if (name === undefined) return undefined;
  if (pod.implicit)
    throw invalidInput('pidNamespaceOf names a container of the same pod: give podId');
  if (pod.runtime === 'vm')
    throw invalidInput(
      `joining container ${JSON.stringify(name)}'s process namespace is not supported in a pod VM (the guest's agent gives each container its own, or the pod one with shareProcessNamespace)`,
    );
  const target = db.containersOfPod(pod.id).find((c) => c.nameInPod === name);
  if (!target)
    throw invalidInput(`pidNamespaceOf: no container ${JSON.stringify(name)} in the pod`);
  return target.id;
}

function containerConfigOf(req: CreateContainerRequest): ContainerConfig {
  const placement = new Set(['name', 'podId', 'nameInPod']);
  return Object.fromEntries(
    Object.entries(req).filter(([k, v]) => v !== undefined && !placement.has(k)),
  ) as unknown as ContainerConfig;
}
