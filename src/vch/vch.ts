// The VCH core: images, pods and containers of one Virtual Container Host, kept in its database
// (<state>/vch.db), with images in the image store (<state>/images), containers run by a
// runtime (<state>/runtime/…) and their output in <state>/containers/<id>/output.log. The
// persona (Docker Engine API) and the portlayer API are both thin layers over this class; it
// knows nothing of HTTP or Docker JSON.
//
// This file is the composition root: it opens the state directory (one VCH at a time holds it:
// state-lock.ts), the database, the runtime and the image store, wires the services of
// ./services/ together, and answers for them (a facade: each method is one service's). Every
// answer comes from the database, refreshed by the runtime: the watchers record each running
// container's exit, and on open the runtime's recovery is reconciled with the database.
import { EventEmitter } from 'node:events';
import { chmod, mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { notImplemented } from '../errdefs.js';
import { findContainer, findPod } from './services/lookup.js';
import { top, type TopResult } from './services/top.js';
import { conflict, invalidInput } from './errors.js';
import { type Credentials, ImageStore, type PullProgress } from '../image/index.js';
import type { StreamSelection } from '../iolog/index.js';
import type {
  AttachSession,
  ExecOptions,
  ExecResult,
  ExecSpec,
  ExecStream,
  ExecStreamOptions,
  PathStat,
  Runtime,
  SandboxNetwork,
} from '../runtime/runtime.js';
import type { BridgeNetwork } from './network/bridge-network.js';
import { VchDb } from './db.js';
import { ContainerService } from './services/containers.js';
import { ExecService } from './services/exec.js';
import { type VchEvents, type VchLogger, VchContext, quietLogger } from './services/context.js';
import { HostService, VCH_VERSION } from './services/host.js';
import { ImageService } from './services/images.js';
import { LogService } from './services/logs.js';
import { PodService } from './services/pods.js';
import { reconcile } from './services/reconcile.js';
import {
  type ContainerStats,
  type HostStats,
  type PodStats,
  StatsService,
} from './services/stats.js';
import { Watchers } from './services/watchers.js';
import { StateLock } from './state-lock.js';
import { VolumeService } from './volumes/volume-service.js';
import { VchMetrics } from './metrics/vch-metrics.js';
import type {
  Capacity,
  ContainerFilter,
  ContainerInfo,
  CreateContainerRequest,
  CreatePodRequest,
  ImageInfo,
  LoadResult,
  LogsRequest,
  NetworkInfo,
  PodInfo,
  PullOutcome,
  PullRequest,
  RemoveRequest,
  StopRequest,
  VchInfo,
  WaitCondition,
  WaitResult,
} from './types.js';

export { VCH_VERSION } from './services/host.js';
export { LOST_EXIT_CODE } from './services/watchers.js';
export type { VchEvents, VchLogger } from './services/context.js';
export type { ContainerStats, HostStats, PodStats } from './services/stats.js';

export interface VchOptions {
  stateDir: string;
  /**
   * The runtime, made for its state directory (`<stateDir>/runtime/<name>`) and the VCH's
   * network (when it has one).
   */
  runtime: (runtimeStateDir: string, network?: SandboxNetwork) => Runtime;
  /** The VCH's bridge network, opened once the state is the VCH's; absent: loopback only. */
  network?: (stateDir: string) => Promise<BridgeNetwork>;
  /** Registries spoken to over plain HTTP (loopback ones always are). */
  insecureRegistries?: readonly string[];
  /** --max-layer-expansion: a layer's uncompressed bytes per compressed byte (0: no limit). */
  maxLayerExpansion?: number;
  /** The VCH's name in /info; default the host name. */
  name?: string;
  logger?: VchLogger;
  /** The pod VM boot metric, for info(); absent where there is no vm backend. */
  vmBoots?: () => NonNullable<VchInfo['vmBoots']>;
}

export class Vch extends EventEmitter<VchEvents> {
  readonly version = VCH_VERSION;
  readonly images: ImageStore;
  readonly #ctx: VchContext;
  readonly #lock: StateLock;
  readonly #watchers: Watchers;
  readonly #containers: ContainerService;
  readonly #logs: LogService;
  readonly #exec: ExecService;
  readonly #pods: PodService;
  readonly #images: ImageService;
  readonly #host: HostService;
  readonly #stats: StatsService;
  /** Volumes (docker volume, the portlayer's /storage/volumes). */
  readonly volumes: VolumeService;
  /** Its Prometheus metrics (served at /metrics on its listener). */
  readonly metrics: VchMetrics;

  private constructor(
    readonly stateDir: string,
    db: VchDb,
    runtime: Runtime,
    lock: StateLock,
    options: VchOptions,
    network: BridgeNetwork | undefined,
  ) {
    super();
    this.#lock = lock;
    const ctx = new VchContext(stateDir, db, runtime, options.logger ?? quietLogger, this, network);
    this.#ctx = ctx;
    this.metrics = new VchMetrics(() => db.containers().map((c) => ctx.logPath(c.id)));
    this.on('event', (e) => {
      if (e.type !== 'container') return;
      if (e.action === 'start') this.metrics.containerStarted();
      else if (e.action === 'die') this.metrics.containerExited(Number(e.attributes.exitCode ?? 0));
    });
    this.images = new ImageStore(stateDir, {
      insecureRegistries: options.insecureRegistries ?? [],
      ...(options.maxLayerExpansion !== undefined && {
        layerLimits: { maxRatio: options.maxLayerExpansion },
      }),
    });
    this.#images = new ImageService(ctx, this.images);
    // The watchers remove `--rm` containers, and pods their containers, through the container
    // service, which is made after the watchers (it records exits through them).
    this.#watchers = new Watchers(ctx, (id) => this.#containers.remove(id));
    this.volumes = new VolumeService(ctx);
    this.#containers = new ContainerService(ctx, this.#images, this.#watchers, this.volumes);
    this.#logs = new LogService(ctx, this.#containers);
    this.#exec = new ExecService(ctx);
    this.#pods = new PodService(
      ctx,
      (id) => this.#containers.remove(id, { force: true }),
      this.volumes,
    );
    this.#host = new HostService(ctx, options.name ?? osHostname(), options.vmBoots);
    this.#stats = new StatsService(ctx);
  }

  /** How many waits and log followers hold on to container `id` (they must let go). */
  watchersOf(id: string): number {
    return this.#ctx.watchersOf(id);
  }

  /** Opens (or creates) the VCH at `options.stateDir` and reconciles it with the runtime. */
  static async open(options: VchOptions): Promise<Vch> {
    const dir = options.stateDir;
    // The VCH's alone: no local user may reach its layers (setuid files planted by an image),
    // rootfs, logs or database.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    await mkdir(join(dir, 'containers'), { recursive: true });
    await mkdir(join(dir, 'runtime'), { recursive: true });
    const lock = await StateLock.acquire(dir);
    let db: VchDb | undefined;
    let runtime: Runtime | undefined;
    try {
      db = new VchDb(join(dir, 'vch.db'));
      const network = await options.network?.(dir);
      runtime = options.runtime(join(dir, 'runtime'), network);
      const vch = new Vch(dir, db, runtime, lock, options, network);
      await vch.volumes.reconcile();
      // No handle survives a restart: a pod volume without its pod now never gets one.
      await vch.volumes.removeOrphans(Date.now());
      await reconcile(vch.#ctx, vch.#watchers);
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
    const ctx = this.#ctx;
    if (ctx.closed) return;
    this.#watchers.close();
    await ctx.close();
    await ctx.runtime.close();
    ctx.db.close();
    await this.#lock.release();
  }

  // ---- containers: services/containers.ts, services/logs.ts ----

  /** Creates a container (and, without `podId`, a sandbox of its own). Not started. */
  createContainer(req: CreateContainerRequest): Promise<ContainerInfo> {
    return this.#containers.create(req);
  }

  /** Starts a created or exited container; false if it was running already. */
  startContainer(ref: string): Promise<boolean> {
    return this.#containers.start(ref);
  }

  /**
   * Stops a running container: its stop signal (or `signal`), then SIGKILL after the timeout.
   * False if it was not running.
   */
  stopContainer(ref: string, req: StopRequest = {}): Promise<boolean> {
    return this.#containers.stop(ref, req);
  }

  /** Stops the container if it runs, then starts it again (`docker restart`). */
  restartContainer(ref: string, req: StopRequest = {}): Promise<void> {
    return this.#containers.restart(ref, req);
  }

  /** Sends a signal (default SIGKILL) to a running container; Conflict if it is not running. */
  killContainer(ref: string, signal = 'SIGKILL'): Promise<void> {
    return this.#containers.kill(ref, signal);
  }

  /** Waits for a condition of a container; `abort` gives up (rejects with the abort reason). */
  waitContainer(
    ref: string,
    condition: WaitCondition = 'not-running',
    abort?: AbortSignal,
  ): Promise<WaitResult> {
    return this.#containers.wait(ref, condition, abort);
  }

  /** Removes a container (and its own sandbox, and its log). Conflict if running unless forced. */
  removeContainer(ref: string, req: RemoveRequest = {}): Promise<void> {
    return this.#containers.remove(ref, req);
  }

  /**
   * Runs a process in a running container and answers its exit code and output (services/
   * exec.ts). Conflict if it is not running.
   */
  execInContainer(ref: string, spec: ExecSpec, options?: ExecOptions): Promise<ExecResult> {
    return this.#exec.exec(ref, spec, options);
  }

  /**
   * Starts a process in a running container with its streams (stdin, a terminal): kubectl
   * exec -i/-t, docker exec. Conflict if it is not running.
   */
  execStream(ref: string, spec: ExecSpec, options: ExecStreamOptions): Promise<ExecStream> {
    return this.#exec.stream(ref, spec, options);
  }

  /**
   * The container's processes as the host's `ps` shows them (docker top; services/top.ts).
   * Conflict: it is not running.
   */
  async topContainer(ref: string, psArgs?: string): Promise<TopResult> {
    const row = findContainer(this.#ctx.db, ref);
    if (row.status !== 'running') throw conflict(`container ${row.id} is not running`);
    const rt = this.#ctx.runtime;
    if (!rt.processes) throw notImplemented(`the ${rt.name} runtime cannot list processes`);
    return top(await rt.processes(row.id), psArgs);
  }

  // ---- docker cp (the persona's archive endpoints) ----

  /** lstat of `path` in a running container, resolved in its root. NotFound: no such path. */
  async statContainerPath(ref: string, path: string): Promise<PathStat> {
    const { id, rt } = this.#copyTarget(ref);
    if (!rt.statPath) throw notImplemented(`the ${rt.name} runtime cannot copy files`);
    return rt.statPath(id, path);
  }

  /** A tar of `path` of a running container. */
  async containerArchive(ref: string, path: string): Promise<Readable> {
    const { id, rt } = this.#copyTarget(ref);
    if (!rt.getArchive) throw notImplemented(`the ${rt.name} runtime cannot copy files`);
    return rt.getArchive(id, path);
  }

  /** Extracts `tar` into the directory `dir` of a running container. */
  async extractToContainer(ref: string, dir: string, tar: Readable, keepOwner: boolean) {
    const { id, rt } = this.#copyTarget(ref);
    if (!rt.putArchive) throw notImplemented(`the ${rt.name} runtime cannot copy files`);
    return rt.putArchive(id, dir, tar, keepOwner);
  }

  /** docker cp reaches a running container only (its mount namespace). */
  #copyTarget(ref: string) {
    const row = findContainer(this.#ctx.db, ref);
    if (row.status !== 'running')
      throw conflict(
        `container ${row.id} is not running: docker cp works on running containers here`,
      );
    return { id: row.id, rt: this.#ctx.runtime };
  }

  /** One container by id, unique id prefix or name. */
  inspectContainer(ref: string): Promise<ContainerInfo> {
    return this.#containers.inspect(ref);
  }

  /** Containers matching the filter, newest first. */
  listContainers(filter: ContainerFilter = {}): Promise<ContainerInfo[]> {
    return this.#containers.list(filter);
  }

  /** Where a container's output is kept (iolog format). */
  logPath(id: string): string {
    return this.#ctx.logPath(id);
  }

  /**
   * A container's output as an object-mode Readable of iolog chunks ({stream, data}). With
   * `follow` it ends when the container is no longer running (or `signal` aborts).
   */
  logs(ref: string, req: LogsRequest = {}): Promise<Readable> {
    return this.#logs.logs(ref, req);
  }

  /**
   * The container's output from now on, as `docker attach` (and `docker run` without -d) sees
   * it: what is written after this call, until the container's next exit or `signal` aborts.
   */
  attach(
    ref: string,
    req: { stream?: StreamSelection; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    return this.#logs.attach(ref, req);
  }

  /**
   * An attach session to a container's own stdin and terminal (docker attach, docker run -it,
   * kubectl attach): its input and resizes; the output is `attach`'s. A container that is
   * created but not started yet is waited for (docker run attaches before it starts), until
   * `signal` aborts. NotFound: no such container; Conflict: it has exited, or was created
   * without stdin or a terminal; InvalidInput: `stdin` for a container without stdin.
   */
  async attachSession(
    ref: string,
    o: { stdin: boolean; signal?: AbortSignal },
  ): Promise<AttachSession> {
    const rt = this.#ctx.runtime;
    if (!rt.attach) throw notImplemented(`the ${rt.name} runtime cannot attach`);
    let row = findContainer(this.#ctx.db, ref);
    const cfg = row.config;
    if (!cfg.stdin && !cfg.tty)
      throw conflict(
        `container ${row.name} was created without stdin or a terminal: there is no input to attach to`,
      );
    if (o.stdin && !cfg.stdin)
      throw invalidInput(`container ${row.name} was created without stdin: attach without it`);
    while (row.status === 'created') {
      o.signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 20));
      row = findContainer(this.#ctx.db, row.id);
    }
    if (row.status !== 'running') throw conflict(`container ${row.name} is not running`);
    return rt.attach(row.id, { stdin: o.stdin });
  }

  // ---- pods: services/pods.ts ----

  /**
   * A TCP connection to `port` on the pod's own loopback, made inside the pod (kubectl
   * port-forward): resolves once connected. NotFound: no such pod; Conflict: its sandbox does
   * not run; Unavailable: nothing listens there.
   */
  async portForward(podRef: string, port: number): Promise<Duplex> {
    const pod = findPod(this.#ctx.db, podRef);
    const rt = this.#ctx.runtime;
    if (!rt.portForward) throw notImplemented(`the ${rt.name} runtime cannot forward ports`);
    return rt.portForward(pod.id, port);
  }

  createPod(req: CreatePodRequest = {}): Promise<PodInfo> {
    return this.#pods.create(req);
  }

  /** Removes a pod; its containers must be removed first unless `force` (then they are). */
  removePod(ref: string, req: RemoveRequest = {}): Promise<void> {
    return this.#pods.remove(ref, req);
  }

  inspectPod(ref: string): Promise<PodInfo> {
    return this.#pods.inspect(ref);
  }

  listPods(): Promise<PodInfo[]> {
    return this.#pods.list();
  }

  /** The id of the oldest pod labelled `key`=`value`: one indexed read, no listing. */
  podIdByLabel(key: string, value: string): string | undefined {
    return this.#ctx.db.podIdByLabel(key, value);
  }

  /** The id of the newest container labelled `key`=`value`. */
  containerIdByLabel(key: string, value: string): string | undefined {
    return this.#ctx.db.containerIdByLabel(key, value);
  }

  // ---- images: services/images.ts ----

  /** Pulls an image from its registry and records its reference. */
  async pullImage(req: PullRequest): Promise<PullOutcome> {
    const pull = this.metrics.pulling(req);
    try {
      const outcome = await this.#images.pull(pull.req);
      pull.done(true);
      return outcome;
    } catch (err) {
      pull.done(false);
      throw err;
    }
  }

  /** Checks credentials against a registry (`docker login`); nothing is stored. */
  login(registry: string, credentials: Credentials): Promise<void> {
    return this.#images.login(registry, credentials);
  }

  /** Loads the images of an archive (OCI layout tar or `docker save` tar) at `path`. */
  loadImages(path: string, onProgress?: (event: PullProgress) => void): Promise<LoadResult> {
    return this.#images.load(path, onProgress);
  }

  listImages(): Promise<ImageInfo[]> {
    return this.#images.list();
  }

  /** An image by reference, id (`sha256:…`) or unique id prefix. */
  inspectImage(ref: string): Promise<ImageInfo> {
    return this.#images.inspect(ref);
  }

  /**
   * Removes a reference (by name) or every reference of an image (by id). Conflict if a
   * container uses an image that would lose its last reference, unless `force`. Answers what
   * was untagged and deleted, as Docker does; blobs and snapshots no image needs are freed.
   */
  removeImage(
    ref: string,
    req: RemoveRequest = {},
  ): Promise<{ untagged: string[]; deleted: string[] }> {
    return this.#images.remove(ref, req);
  }

  // ---- host: services/host.ts ----

  capacity(): Promise<Capacity> {
    return this.#host.capacity();
  }

  /** The VCH's bridge network; undefined when its pods have loopback only. */
  network(): NetworkInfo | undefined {
    return this.#ctx.network?.info();
  }

  info(): Promise<VchInfo> {
    return this.#host.info();
  }

  // ---- usage: services/stats.ts ----

  /** A container's usage now (CPU and memory while it runs, rootfs and log bytes). */
  containerStats(ref: string): Promise<ContainerStats> {
    return this.#stats.container(ref);
  }

  /** A pod's usage: its network and each of its containers'. */
  podStats(ref: string): Promise<PodStats> {
    return this.#stats.pod(ref);
  }

  /** The host's usage (the node's figures). */
  hostStats(): Promise<HostStats> {
    return this.#stats.host();
  }
}
