// The VCH core: images, pods and containers of one Virtual Container Host, kept in its database
// (<state>/vch.db), with images in the image store (<state>/images), containers run by a
// runtime (<state>/runtime/…) and their output in <state>/containers/<id>/output.log. The
// persona (Docker Engine API) and the portlayer API are both thin layers over this class; it
// knows nothing of HTTP or Docker JSON.
//
// Every answer comes from the database, refreshed by the runtime: a watcher per running
// container records its exit, and on open the runtime's recovery is reconciled with the
// database (running containers stay running and are watched again; ones that vanished are
// marked exited). Operations on one container are serialized; the database write of a state
// change happens before its event is emitted. Image references and lookups are the image
// catalog's (image-catalog.ts); one VCH at a time holds a state directory (state-lock.ts).
import { EventEmitter } from 'node:events';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname, arch, release } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type Credentials, ImageStore, type PullProgress } from '../image/index.js';
import { type LogQuery, type StreamSelection, queryLog, validateQuery } from '../iolog/index.js';
import type { ContainerState, Runtime } from '../runtime/runtime.js';
import { hostCapacity } from './capacity.js';
import { matchesFilter } from './container-filter.js';
import { ImageCatalog } from './image-catalog.js';
import { StateLock } from './state-lock.js';
import { type ContainerRow, type ContainerStateUpdate, type PodRow, VchDb } from './db.js';
import { conflict, errorKind, invalidInput, notFound } from './errors.js';
import { checkName, generateName, isId, newId } from './names.js';
import { backendOfLabels, checkBackend } from './runtime-label.js';
import { mergeProcess, processSpec } from './process.js';
import type {
  Capacity,
  ContainerConfig,
  ContainerFilter,
  ContainerInfo,
  CreateContainerRequest,
  CreatePodRequest,
  ImageInfo,
  LoadResult,
  LogsRequest,
  PodInfo,
  PullOutcome,
  PullRequest,
  RemoveRequest,
  StopRequest,
  VchEvent,
  VchInfo,
  WaitCondition,
  WaitResult,
} from './types.js';

export const VCH_VERSION = '0.1.0';

/** Exit code recorded for a container that vanished without leaving one. */
export const LOST_EXIT_CODE = 255;

/** What the core logs; a pino logger fits. */
export interface VchLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const quiet: VchLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface VchOptions {
  stateDir: string;
  /** The runtime, made for its state directory (`<stateDir>/runtime/<name>`). */
  runtime: (runtimeStateDir: string) => Runtime;
  /** Registries spoken to over plain HTTP (loopback ones always are). */
  insecureRegistries?: readonly string[];
  /** The VCH's name in /info; default the host name. */
  name?: string;
  logger?: VchLogger;
  /** The pod VM boot metric, for info(); absent where there is no vm backend. */
  vmBoots?: () => NonNullable<VchInfo['vmBoots']>;
}

export interface VchEvents {
  event: [VchEvent];
}

function nowIso(): string {
  return new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export class Vch extends EventEmitter<VchEvents> {
  readonly version = VCH_VERSION;
  readonly images: ImageStore;
  readonly #db: VchDb;
  readonly #runtime: Runtime;
  readonly #log: VchLogger;
  readonly #name: string;
  readonly #images: ImageCatalog;
  readonly #lock: StateLock;
  readonly #vmBoots: VchOptions['vmBoots'];
  /** Per-container queue of operations. */
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Watchers of running containers, by id; aborted on close or when a new run starts. */
  readonly #watchers = new Map<string, AbortController>();
  /** Host pids of running containers, from the runtime. */
  readonly #pids = new Map<string, number>();
  #closed = false;

  private constructor(
    readonly stateDir: string,
    db: VchDb,
    runtime: Runtime,
    lock: StateLock,
    options: VchOptions,
  ) {
    super();
    this.#lock = lock;
    this.#db = db;
    this.#runtime = runtime;
    this.#log = options.logger ?? quiet;
    this.#vmBoots = options.vmBoots;
    this.#name = options.name ?? osHostname();
    const insecureRegistries = options.insecureRegistries ?? [];
    this.images = new ImageStore(stateDir, { insecureRegistries });
    this.#images = new ImageCatalog(
      this.images,
      db,
      (action, id, attributes) => this.#emit('image', action, id, attributes),
      (image, note) => this.#log.info({ image, note }, 'unpack note'),
    );
  }

  /** Opens (or creates) the VCH at `options.stateDir` and reconciles it with the runtime. */
  static async open(options: VchOptions): Promise<Vch> {
    const dir = options.stateDir;
    await mkdir(join(dir, 'containers'), { recursive: true });
    await mkdir(join(dir, 'runtime'), { recursive: true });
    const lock = await StateLock.acquire(dir);
    let db: VchDb | undefined;
    let runtime: Runtime | undefined;
    try {
      db = new VchDb(join(dir, 'vch.db'));
      runtime = options.runtime(join(dir, 'runtime'));
      const vch = new Vch(dir, db, runtime, lock, options);
      await vch.#reconcile();
      return vch;
    } catch (e) {
      await runtime?.close().catch(() => {});
      db?.close();
      await lock.release();
      throw e;
    }
  }

  /** Stops watching; containers keep running. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#watchers.values()) w.abort();
    this.#watchers.clear();
    await Promise.allSettled([...this.#locks.values()]);
    await this.#runtime.close();
    this.#db.close();
    await this.#lock.release();
  }

  // ---- containers ----

  /** Creates a container (and, without `podId`, a sandbox of its own). Not started. */
  async createContainer(req: CreateContainerRequest): Promise<ContainerInfo> {
    this.#open();
    const image = await this.#images.resolve(req.image);
    const imageConfig = await this.#images.processConfig(image);
    const proc = mergeProcess(imageConfig, req);
    const id = newId();
    const name =
      req.name !== undefined && req.name !== ''
        ? checkName(req.name)
        : generateName((n) => this.#db.containerByName(n) !== undefined);
    this.#checkNameFree(name);
    let pod: PodRow;
    if (req.podId !== undefined) {
      pod = this.#podRow(req.podId);
    } else {
      const podId = newId();
      pod = {
        id: podId,
        name: `implicit-${podId.slice(0, 12)}`,
        hostname: req.hostname ?? id.slice(0, 12),
        labels: {},
        implicit: true,
        spec: {
          ...(req.memoryLimitBytes !== undefined && { memoryLimitBytes: req.memoryLimitBytes }),
          ...(req.cpuMillis !== undefined && { cpuMillis: req.cpuMillis }),
        },
        created: nowIso(),
        runtime: this.#backendFor(req.runtime, req.labels),
      };
    }
    const row: ContainerRow = {
      id,
      name,
      nameInPod: req.nameInPod ?? name,
      podId: pod.id,
      config: containerConfigOf(req),
      imageReference: image.reference,
      imageId: image.configDigest,
      process: proc,
      created: nowIso(),
      status: 'created',
      restartCount: 0,
    };
    // The database first: a crash before the runtime has the container leaves a row that the
    // next start marks exited ("Lost"), never a container the VCH does not know.
    this.#db.transaction(() => {
      this.#checkNameFree(name);
      if (pod.implicit) this.#db.insertPod(pod);
      this.#db.insertContainer(row);
    });
    const logPath = this.logPath(id);
    try {
      await mkdir(join(this.stateDir, 'containers', id), { recursive: true });
      await writeFile(logPath, '', { flag: 'a' });
      if (pod.implicit)
        await this.#runtime.createSandbox({
          id: pod.id,
          hostname: pod.hostname,
          ...pod.spec,
          runtime: pod.runtime,
        });
      await this.#runtime.createContainer(pod.id, {
        id,
        name: row.nameInPod,
        imageRootfs: this.images.rootfs(image),
        process: processSpec(proc),
        logPath,
        stopSignal: proc.stopSignal,
        ...(req.memoryLimitBytes !== undefined && { memoryLimitBytes: req.memoryLimitBytes }),
        ...(req.cpuMillis !== undefined && { cpuMillis: req.cpuMillis }),
        ...(req.labels && { labels: req.labels }),
      });
    } catch (e) {
      this.#db.transaction(() => {
        this.#db.deleteContainer(id);
        if (pod.implicit) this.#db.deletePod(pod.id);
      });
      if (pod.implicit) await this.#runtime.removeSandbox(pod.id).catch(() => {});
      await rm(join(this.stateDir, 'containers', id), { recursive: true, force: true });
      throw e;
    }
    this.#emit('container', 'create', id, { name, image: req.image });
    return this.#info(this.#db.container(id)!);
  }

  /** Starts a created or exited container; false if it was running already. */
  async startContainer(ref: string): Promise<boolean> {
    const id = this.#containerRow(ref).id;
    return this.#serial(id, async () => {
      const row = this.#containerRow(id);
      if (row.status === 'running') return false;
      const restart = row.status === 'exited' || row.startedAt !== undefined;
      try {
        await this.#runtime.start(id);
      } catch (e) {
        // Docker keeps the failure on the container (State.Error) with a shell's exit code:
        // 127 for a command not found, 126 for one that cannot be run, else 128.
        const message = (e as Error).message;
        const exitCode = /not found|no such file/i.test(message)
          ? 127
          : /permission denied|not executable/i.test(message)
            ? 126
            : 128;
        this.#db.updateState(id, { ...stateOf(row), error: message, exitCode }, row.restartCount);
        throw e;
      }
      const st = await this.#runtime.state(id).catch(() => undefined);
      if (st?.pid !== undefined) this.#pids.set(id, st.pid);
      this.#db.updateState(
        id,
        { status: 'running', startedAt: st?.startedAt ?? nowIso() },
        row.restartCount + (restart ? 1 : 0),
      );
      this.#emit('container', 'start', id, { name: row.name });
      this.#watch(id);
      // The container may have exited between start and our watcher: the watcher records it.
      return true;
    });
  }

  /**
   * Stops a running container: its stop signal (or `signal`), then SIGKILL after the timeout.
   * False if it was not running.
   */
  async stopContainer(ref: string, req: StopRequest = {}): Promise<boolean> {
    const id = this.#containerRow(ref).id;
    return this.#serial(id, async () => {
      const row = this.#containerRow(id);
      if (row.status !== 'running') return false;
      const timeout = req.timeoutSeconds ?? row.process.stopTimeout;
      const st = await this.#runtime.stop(id, {
        signal: req.signal ?? row.process.stopSignal,
        graceMs: Math.max(0, timeout) * 1000,
      });
      this.#recordExit(id, st);
      this.#emit('container', 'stop', id, { name: row.name });
      return true;
    });
  }

  /** Stops the container if it runs, then starts it again (`docker restart`). */
  async restartContainer(ref: string, req: StopRequest = {}): Promise<void> {
    await this.stopContainer(ref, req);
    await this.startContainer(ref);
  }

  /** Sends a signal (default SIGKILL) to a running container; Conflict if it is not running. */
  async killContainer(ref: string, signal = 'SIGKILL'): Promise<void> {
    const row = this.#containerRow(ref);
    if (row.status !== 'running') throw conflict(`container ${row.id} is not running`);
    await this.#runtime.kill(row.id, signal);
    this.#emit('container', 'kill', row.id, { name: row.name, signal });
  }

  /** Waits for a condition of a container; `abort` gives up (rejects with the abort reason). */
  async waitContainer(
    ref: string,
    condition: WaitCondition = 'not-running',
    abort?: AbortSignal,
  ): Promise<WaitResult> {
    const row = this.#containerRow(ref);
    const id = row.id;
    if (condition === 'not-running' && row.status !== 'running') return waitResult(row);
    const action = condition === 'removed' ? 'destroy' : 'die';
    let lastExit: WaitResult = waitResult(row);
    return new Promise<WaitResult>((resolve, reject) => {
      const onEvent = (e: VchEvent) => {
        if (e.type !== 'container' || e.id !== id) return;
        if (e.action === 'die') {
          const r = this.#db.container(id);
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
      const cleanup = () => {
        this.off('event', onEvent);
        abort?.removeEventListener('abort', onAbort);
      };
      this.on('event', onEvent);
      if (abort?.aborted) return onAbort();
      abort?.addEventListener('abort', onAbort, { once: true });
      // The state may have changed before we listened (the row was read above).
      const now = this.#db.container(id);
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
  async removeContainer(ref: string, req: RemoveRequest = {}): Promise<void> {
    const id = this.#containerRow(ref).id;
    return this.#serial(id, async () => {
      const row = this.#containerRow(id);
      if (row.status === 'running') {
        if (!req.force)
          throw conflict(
            `cannot remove container "/${row.name}": container is running: stop the container before removing or force remove`,
          );
        const st = await this.#runtime.stop(id, { signal: 'SIGKILL', graceMs: 0 });
        this.#recordExit(id, st);
      }
      this.#watchers.get(id)?.abort();
      this.#watchers.delete(id);
      await this.#runtime.remove(id).catch((e: unknown) => {
        if (errorKind(e) !== 'NotFound') throw e;
      });
      const pod = this.#db.pod(row.podId);
      this.#db.transaction(() => this.#db.deleteContainer(id));
      if (pod?.implicit) {
        await this.#runtime.removeSandbox(pod.id).catch((e: unknown) => {
          if (errorKind(e) !== 'NotFound') throw e;
        });
        this.#db.deletePod(pod.id);
      }
      await rm(join(this.stateDir, 'containers', id), { recursive: true, force: true });
      this.#emit('container', 'destroy', id, { name: row.name });
      // The last user of an image untagged while in use (`docker rmi -f`): free it now, not at
      // the next rmi. In the background; it never rejects.
      if (this.#db.imagesById(row.imageId).length === 0 && !this.#db.imageInUse(row.imageId))
        void this.#images.collectGarbage(`container ${id}`);
    });
  }

  /** One container by id, unique id prefix or name. */
  async inspectContainer(ref: string): Promise<ContainerInfo> {
    return this.#info(this.#containerRow(ref));
  }

  /** Containers matching the filter, newest first. */
  async listContainers(filter: ContainerFilter = {}): Promise<ContainerInfo[]> {
    const rows = this.#db.containers().filter((r) => matchesFilter(r, filter));
    return rows.map((r) => this.#info(r));
  }

  /** Where a container's output is kept (iolog format). */
  logPath(id: string): string {
    return join(this.stateDir, 'containers', id, 'output.log');
  }

  /**
   * A container's output as an object-mode Readable of iolog chunks ({stream, data}). With
   * `follow` it ends when the container is no longer running (or `signal` aborts).
   */
  async logs(ref: string, req: LogsRequest = {}): Promise<Readable> {
    const row = this.#containerRow(ref);
    const query: LogQuery = {
      ...(req.since !== undefined && { since: req.since }),
      ...(req.until !== undefined && { until: req.until }),
      ...(req.tail !== undefined && { tail: req.tail }),
      ...(req.stream && { stream: req.stream }),
      ...(req.timestamps && { timestamps: true }),
      ...(req.limitBytes !== undefined && { limitBytes: req.limitBytes }),
    };
    // Check now, so that a bad query or a missing log fails the call itself, not the stream.
    validateQuery(query);
    try {
      await access(this.logPath(row.id));
    } catch {
      throw notFound(`container ${row.id} has no log`);
    }
    return this.#stream(row.id, query, req.follow ? 'not-running' : undefined, req.signal);
  }

  /**
   * The container's output from now on, as `docker attach` (and `docker run` without -d) sees
   * it: what is written after this call, until the container's next exit or `signal` aborts.
   */
  async attach(
    ref: string,
    req: { stream?: StreamSelection; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    const row = this.#containerRow(ref);
    const query: LogQuery = {
      // Everything stamped from now on: the tether stamps entries with the same clock.
      since: BigInt(Date.now()) * 1_000_000n,
      ...(req.stream && { stream: req.stream }),
    };
    const until = row.status === 'running' ? 'not-running' : 'next-exit';
    return this.#stream(row.id, query, until, req.signal);
  }

  /** Runs a query over a container's log; with `until`, follows until that wait resolves. */
  #stream(
    id: string,
    query: LogQuery,
    until: WaitCondition | undefined,
    outer: AbortSignal | undefined,
  ): Readable {
    // Following ends when the container stops, the caller aborts, or the stream is destroyed.
    const done = new AbortController();
    const signal = outer ? AbortSignal.any([outer, done.signal]) : done.signal;
    if (until) {
      query.follow = true;
      query.writerClosed = this.waitContainer(id, until, signal).catch(() => {});
    }
    query.signal = signal;
    const stream = Readable.from(queryLog(this.logPath(id), query), { objectMode: true });
    stream.once('close', () => done.abort());
    return stream;
  }

  // ---- pods ----

  async createPod(req: CreatePodRequest = {}): Promise<PodInfo> {
    this.#open();
    const id = newId();
    const name = req.name !== undefined ? checkName(req.name, 'pod') : `pod-${id.slice(0, 12)}`;
    if (this.#db.podByName(name)) throw conflict(`the pod name "${name}" is already in use`);
    const pod: PodRow = {
      id,
      name,
      hostname: req.hostname ?? name,
      labels: req.labels ?? {},
      implicit: false,
      spec: {
        ...(req.shareProcessNamespace !== undefined && {
          shareProcessNamespace: req.shareProcessNamespace,
        }),
        ...(req.memoryLimitBytes !== undefined && { memoryLimitBytes: req.memoryLimitBytes }),
        ...(req.cpuMillis !== undefined && { cpuMillis: req.cpuMillis }),
      },
      created: nowIso(),
      runtime: this.#backendFor(req.runtime, req.labels),
    };
    this.#db.insertPod(pod);
    try {
      await this.#runtime.createSandbox({
        id,
        hostname: pod.hostname,
        ...pod.spec,
        runtime: pod.runtime,
      });
    } catch (e) {
      this.#db.deletePod(id);
      throw e;
    }
    this.#emit('pod', 'create', id, { name });
    return this.#podInfo(pod);
  }

  /** Removes a pod; its containers must be removed first unless `force` (then they are). */
  async removePod(ref: string, req: RemoveRequest = {}): Promise<void> {
    const pod = this.#podRow(ref);
    const containers = this.#db.containersOfPod(pod.id);
    if (containers.length > 0 && !req.force)
      throw conflict(`pod ${pod.name} still has ${containers.length} container(s)`);
    for (const c of containers) await this.removeContainer(c.id, { force: true });
    if (!this.#db.pod(pod.id)) return; // an implicit pod went with its container
    await this.#runtime.removeSandbox(pod.id).catch((e: unknown) => {
      if (errorKind(e) !== 'NotFound') throw e;
    });
    this.#db.deletePod(pod.id);
    this.#emit('pod', 'destroy', pod.id, { name: pod.name });
  }

  async inspectPod(ref: string): Promise<PodInfo> {
    return this.#podInfo(this.#podRow(ref));
  }

  async listPods(): Promise<PodInfo[]> {
    return this.#db.pods().map((p) => this.#podInfo(p));
  }

  // ---- images ----

  /** Pulls an image from its registry and records its reference. */
  async pullImage(req: PullRequest): Promise<PullOutcome> {
    this.#open();
    return this.#images.pull(req);
  }

  /** Checks credentials against a registry (`docker login`); nothing is stored. */
  async login(registry: string, credentials: Credentials): Promise<void> {
    await this.#images.login(registry, credentials);
  }

  /** Loads the images of an archive (OCI layout tar or `docker save` tar) at `path`. */
  async loadImages(path: string, onProgress?: (event: PullProgress) => void): Promise<LoadResult> {
    this.#open();
    return this.#images.load(path, onProgress);
  }

  async listImages(): Promise<ImageInfo[]> {
    return this.#images.list();
  }

  /** An image by reference, id (`sha256:…`) or unique id prefix. */
  async inspectImage(ref: string): Promise<ImageInfo> {
    return this.#images.inspect(ref);
  }

  /**
   * Removes a reference (by name) or every reference of an image (by id). Conflict if a
   * container uses an image that would lose its last reference, unless `force`. Answers what
   * was untagged and deleted, as Docker does; blobs and snapshots no image needs are freed.
   */
  async removeImage(
    ref: string,
    req: RemoveRequest = {},
  ): Promise<{ untagged: string[]; deleted: string[] }> {
    return this.#images.remove(ref, req);
  }

  // ---- host ----

  async capacity(): Promise<Capacity> {
    const host = await hostCapacity(this.stateDir);
    let usedCpuMillis = 0;
    let usedMemoryBytes = 0;
    let running = 0;
    for (const r of this.#db.containers()) {
      if (r.status !== 'running') continue;
      running++;
      usedCpuMillis += r.config.cpuMillis ?? 0;
      usedMemoryBytes += r.config.memoryLimitBytes ?? 0;
    }
    return {
      cpus: host.cpus,
      memoryBytes: host.memoryBytes,
      diskBytes: host.diskBytes,
      diskFreeBytes: host.diskFreeBytes,
      usedCpuMillis,
      usedMemoryBytes,
      runningContainers: running,
      pods: this.#db.pods().length,
    };
  }

  async info(): Promise<VchInfo> {
    const rows = this.#db.containers();
    const count = (s: string) => rows.filter((r) => r.status === s).length;
    return {
      name: this.#name,
      version: VCH_VERSION,
      runtime: this.#runtime.name,
      stateDir: this.stateDir,
      containers: {
        total: rows.length,
        running: count('running'),
        stopped: count('exited'),
        created: count('created'),
      },
      images: new Set(this.#db.images().map((r) => r.configDigest)).size,
      capacity: await this.capacity(),
      os: 'linux',
      kernelVersion: release(),
      architecture: arch(),
      ...(this.#vmBoots && { vmBoots: this.#vmBoots() }),
    };
  }

  // ---- internals ----

  #open(): void {
    if (this.#closed) throw conflict('the VCH is shutting down');
  }

  #emit(
    type: VchEvent['type'],
    action: VchEvent['action'],
    id: string,
    attributes: Record<string, string>,
  ) {
    this.emit('event', { type, action, id, time: nowNs(), attributes });
  }

  /** Runs `fn` after the operations queued on container `id` before it. */
  #serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.#locks.set(id, tail);
    void tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return next;
  }

  /** A new pod's backend: asked for by the request, else by its labels, else the default. */
  #backendFor(
    requested: string | undefined,
    labels: Record<string, string> | undefined,
  ): 'runc' | 'vm' {
    return (
      checkBackend(requested, 'runtime') ??
      backendOfLabels(labels) ??
      (this.#runtime.name === 'vm' ? 'vm' : 'runc')
    );
  }

  #checkNameFree(name: string): void {
    const other = this.#db.containerByName(name);
    if (other)
      throw conflict(
        `the container name "/${name}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
  }

  /** Id, unique id prefix or name (with or without a leading '/'), as Docker looks them up. */
  #containerRow(ref: string): ContainerRow {
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    if (isId(ref)) {
      const r = this.#db.container(ref);
      if (r) return r;
    }
    const byName = this.#db.containerByName(name);
    if (byName) return byName;
    if (/^[0-9a-f]+$/.test(ref)) {
      const found = this.#db.containersByPrefix(ref);
      if (found.length === 1) return found[0];
      if (found.length > 1)
        throw invalidInput(`multiple containers found with provided prefix: ${ref}`);
    }
    throw notFound(`No such container: ${ref}`);
  }

  #podRow(ref: string): PodRow {
    const p = (isId(ref) && this.#db.pod(ref)) || this.#db.podByName(ref);
    if (!p) throw notFound(`No such pod: ${ref}`);
    return p;
  }

  #podInfo(p: PodRow): PodInfo {
    return {
      id: p.id,
      name: p.name,
      hostname: p.hostname,
      labels: p.labels,
      implicit: p.implicit,
      created: p.created,
      containerIds: this.#db.containersOfPod(p.id).map((c) => c.id),
      runtime: p.runtime,
    };
  }

  #info(r: ContainerRow): ContainerInfo {
    const pod = this.#db.pod(r.podId);
    const pid = r.status === 'running' ? this.#pids.get(r.id) : undefined;
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
      restartCount: r.restartCount,
      logPath: this.logPath(r.id),
      runtime: pod?.runtime ?? 'runc',
    };
  }

  /** Watches a running container until it exits, then records the exit. */
  #watch(id: string): void {
    this.#watchers.get(id)?.abort();
    const ac = new AbortController();
    this.#watchers.set(id, ac);
    this.#runtime.wait(id, ac.signal).then(
      (st) => {
        if (ac.signal.aborted) return;
        this.#watchers.delete(id);
        this.#recordExit(id, st);
      },
      (e: unknown) => {
        if (ac.signal.aborted) return;
        this.#watchers.delete(id);
        this.#log.error({ container: id, err: (e as Error).message }, 'lost track of container');
      },
    );
  }

  /** Records that a container is no longer running (once per run) and emits `die`. */
  #recordExit(id: string, st: ContainerState): void {
    const row = this.#db.container(id);
    if (!row || row.status !== 'running') return;
    this.#pids.delete(id);
    this.#db.updateState(
      id,
      {
        status: 'exited',
        startedAt: st.startedAt ?? row.startedAt,
        finishedAt: st.finishedAt ?? nowIso(),
        exitCode: st.exitCode ?? LOST_EXIT_CODE,
        ...(st.reason !== undefined && { error: st.reason }),
      },
      row.restartCount,
    );
    this.#emit('container', 'die', id, {
      name: row.name,
      exitCode: String(st.exitCode ?? LOST_EXIT_CODE),
    });
    if (row.config.autoRemove) this.#autoRemove(id);
    else this.#stopOwnSandbox(id, row.podId);
  }

  /**
   * A container with a sandbox of its own (`docker run`) is the whole pod: once it has exited,
   * its sandbox is stopped (a pod VM powered off; `docker start` boots it again). Queued behind
   * the container's operation under way.
   */
  #stopOwnSandbox(id: string, podId: string): void {
    if (this.#closed || !this.#runtime.stopSandbox || !this.#db.pod(podId)?.implicit) return;
    void this.#serial(id, async () => {
      if (this.#db.container(id)?.status !== 'exited') return;
      await this.#runtime.stopSandbox!(podId);
    }).catch((e: unknown) => {
      if (errorKind(e) !== 'NotFound' && errorKind(e) !== 'Conflict')
        this.#log.warn({ pod: podId, err: (e as Error).message }, 'stopping a sandbox failed');
    });
  }

  /** `docker run --rm`: removed once it has exited (queued behind the operation under way). */
  #autoRemove(id: string): void {
    if (this.#closed) return;
    this.removeContainer(id).catch((e: unknown) => {
      if (errorKind(e) !== 'NotFound')
        this.#log.warn({ container: id, err: (e as Error).message }, 'auto-remove failed');
    });
  }

  /** After a restart: the runtime's view of its containers, settled into the database. */
  async #reconcile(): Promise<void> {
    const recovered = await this.#runtime.recover();
    const states = new Map(recovered.containers.map((c) => [c.id, c]));
    for (const row of this.#db.containers()) {
      const st = states.get(row.id);
      states.delete(row.id);
      if (!st) {
        if (row.status === 'exited') continue;
        this.#db.updateState(
          row.id,
          {
            status: 'exited',
            ...(row.startedAt !== undefined && { startedAt: row.startedAt }),
            finishedAt: nowIso(),
            exitCode: LOST_EXIT_CODE,
            error: 'Lost',
          },
          row.restartCount,
        );
        this.#log.warn({ container: row.id, name: row.name }, 'container vanished; marked exited');
      } else if (st.status === 'running') {
        if (st.pid !== undefined) this.#pids.set(row.id, st.pid);
        if (row.status !== 'running')
          this.#db.updateState(
            row.id,
            { status: 'running', startedAt: st.startedAt ?? row.startedAt ?? nowIso() },
            row.restartCount,
          );
        this.#watch(row.id);
      } else if (st.status === 'exited' && row.status !== 'exited') {
        this.#db.updateState(row.id, { ...stateOf(row), status: 'running' }, row.restartCount);
        this.#recordExit(row.id, st);
      }
    }
    // `--rm` containers that ended while the VCH was away go now.
    for (const row of this.#db.containers())
      if (row.status === 'exited' && row.config.autoRemove) this.#autoRemove(row.id);
    for (const id of states.keys())
      this.#log.warn(
        { container: id },
        'the runtime has a container the VCH does not know; left alone',
      );
    this.#log.info(
      { containers: recovered.containers.length, sandboxes: recovered.sandboxes.length },
      'recovered',
    );
  }
}

function stateOf(r: ContainerRow): ContainerStateUpdate {
  return {
    status: r.status,
    ...(r.startedAt !== undefined && { startedAt: r.startedAt }),
    ...(r.finishedAt !== undefined && { finishedAt: r.finishedAt }),
    ...(r.exitCode !== undefined && { exitCode: r.exitCode }),
    ...(r.error !== undefined && { error: r.error }),
  };
}

function waitResult(r: ContainerRow): WaitResult {
  return {
    exitCode: r.exitCode ?? 0,
    ...(r.error !== undefined && { error: r.error }),
  };
}

/** The configuration part of a create request, without the placement (name, pod). */
function containerConfigOf(req: CreateContainerRequest): ContainerConfig {
  const placement = new Set(['name', 'podId', 'nameInPod']);
  return Object.fromEntries(
    Object.entries(req).filter(([k, v]) => v !== undefined && !placement.has(k)),
  ) as unknown as ContainerConfig;
}
