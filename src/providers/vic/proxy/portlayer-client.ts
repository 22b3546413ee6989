// IsolationProxy over HTTP: VIC's portlayer routes and models (src/api/portlayer/), the same
// table of routes the server registers.
import type { Duplex, Readable } from 'node:stream';
import {
  type ContainerCreateConfig,
  type ContainerCreatedInfo,
  type ContainerInfo,
  type ContainerStateName,
  type ContainerStats,
  type HandleResponse,
  type ImageJoinConfig,
  type Route,
  ROUTES,
  routePath,
  type TaskInspectResponse,
  type TaskJoinConfig,
  type TaskJoinResponse,
  type VCHInfo,
  type VCHStats,
  type WriteVolumeFilesRequest,
} from '../../../api/portlayer/index.js';
import { NodeError } from '../../../node/errors.js';
import { HttpClient, type Endpoint, type RequestOptions, upgradeRequest } from './http.js';
import type { ExecTaskResult, IsolationProxy, LogsOptions } from './isolation-proxy.js';
import type { StatsSource } from './stats-source.js';
import type {
  FileContent,
  VolumeJoinConfig,
  VolumeRequest,
  VolumeResponse,
  VolumeStore,
} from './volume-store.js';

export class PortlayerClient implements IsolationProxy, VolumeStore, StatsSource {
  private readonly http: HttpClient;

  constructor(
    endpoint: string | Endpoint,
    /** The image store name of image joins (VIC: the VCH's UUID). */
    private readonly storeName = 'default',
  ) {
    this.http = new HttpClient(endpoint, 'portlayer');
  }

  /** A JSON call of one route; `params` fill its path template in order. */
  private call<T>(r: Route, params: string[], o: RequestOptions = {}): Promise<T> {
    return this.http.json<T>(r.method, routePath(r, ...params), o);
  }

  async ping(): Promise<void> {
    await this.call(ROUTES.ping, [], { timeoutMs: 10_000 });
  }

  vchInfo(): Promise<VCHInfo> {
    return this.call(ROUTES.vchInfo, [], { timeoutMs: 10_000 });
  }

  createHandle(config: ContainerCreateConfig): Promise<ContainerCreatedInfo> {
    return this.call(ROUTES.create, [], { query: { name: config.name }, body: config });
  }

  handle(id: string): Promise<string> {
    return this.call(ROUTES.containerHandle, [id]);
  }

  async addImageToHandle(handle: string, image: Omit<ImageJoinConfig, 'handle'>) {
    const id = image.imageID ?? image.repoName ?? '';
    const body: ImageJoinConfig = { ...image, handle };
    const r = await this.call<HandleResponse>(ROUTES.imageJoin, [this.storeName, id], { body });
    return r.handle;
  }

  createHandleTask(
    handle: string,
    task: Omit<TaskJoinConfig, 'handle'>,
  ): Promise<TaskJoinResponse> {
    return this.call(ROUTES.taskJoin, [], { body: { ...task, handle } });
  }

  async bindTask(handle: string, id: string): Promise<string> {
    return (await this.call<HandleResponse>(ROUTES.taskBind, [], { body: { handle, id } })).handle;
  }

  async removeTask(handle: string, id: string): Promise<string> {
    return (await this.call<HandleResponse>(ROUTES.taskRemove, [], { body: { handle, id } }))
      .handle;
  }

  async addLoggingToHandle(handle: string): Promise<string> {
    return (await this.call<HandleResponse>(ROUTES.loggingJoin, [], { body: { handle } })).handle;
  }

  async addInteractionToHandle(handle: string): Promise<string> {
    return (await this.call<HandleResponse>(ROUTES.interactionJoin, [], { body: { handle } }))
      .handle;
  }

  setState(handle: string, state: ContainerStateName): Promise<string> {
    // A JSON string, as go-swagger's client sends a string body.
    return this.call(ROUTES.stateChange, [handle], {
      body: JSON.stringify(state),
      headers: { 'content-type': 'application/json' },
    });
  }

  async commitHandle(handle: string, waitTimeSec?: number): Promise<void> {
    // A stop waits for its grace period inside the commit: give it that long and a minute more.
    const timeoutMs = ((waitTimeSec ?? 0) + 120) * 1000;
    await this.call(ROUTES.commit, [handle], { query: { wait_time: waitTimeSec }, timeoutMs });
  }

  async remove(id: string, force = false): Promise<void> {
    await this.call(ROUTES.containerRemove, [id], { query: { force } });
  }

  info(id: string): Promise<ContainerInfo> {
    return this.call(ROUTES.containerInfo, [id]);
  }

  list(all = true): Promise<ContainerInfo[]> {
    return this.call(ROUTES.containerList, [], { query: { all } });
  }

  async signal(id: string, signal: number): Promise<void> {
    await this.call(ROUTES.containerSignal, [id], { query: { signal } });
  }

  wait(id: string, timeoutSec: number, signal?: AbortSignal): Promise<ContainerInfo> {
    return this.call(ROUTES.containerWait, [id], {
      query: { timeout: timeoutSec },
      signal,
      timeoutMs: (timeoutSec + 30) * 1000,
    });
  }

  async execInTask(
    podId: string,
    taskName: string,
    argv: string[],
    timeoutSec?: number,
    signal?: AbortSignal,
  ): Promise<ExecTaskResult> {
    // A commit of execs alone is never stale: no retry on Conflict is needed.
    const [path, ...args] = argv;
    const t0 = Date.now();
    const first = await this.handle(podId);
    // wait and inspect only name the pod by a handle: the first one serves (joins derive new
    // ones and leave it valid) unless the exec outlived half its 15 min life (kubectl exec).
    const named = async () => (Date.now() - t0 < 7 * 60_000 ? first : this.handle(podId));
    const joined = await this.createHandleTask(first, {
      execIn: taskName,
      path,
      args,
      ...(timeoutSec !== undefined && { timeoutSeconds: Math.max(1, Math.ceil(timeoutSec)) }),
    });
    await this.commitHandle(await this.bindTask(joined.handle, joined.id));
    // The VCH kills it at its limit: the wait gets that long and a margin; without a limit
    // (kubectl exec has none) no whole-call timeout.
    const timeoutMs = timeoutSec !== undefined ? (timeoutSec + 30) * 1000 : 2 ** 31 - 1;
    const id = joined.id;
    await this.call(ROUTES.taskWait, [], {
      body: { handle: await named(), id },
      signal,
      timeoutMs,
    });
    const r = await this.call<TaskInspectResponse>(ROUTES.taskInspect, [], {
      body: { handle: await named(), id },
      signal,
    });
    if (r.exitCode === undefined)
      throw new NodeError('Unavailable', `exec ${id} ended without an exit code`);
    return {
      exitCode: r.exitCode,
      stdout: Buffer.from(r.stdout ?? '', 'base64'),
      stderr: Buffer.from(r.stderr ?? '', 'base64'),
      timedOut: r.timedOut ?? false,
      stdoutTruncated: r.stdoutTruncated ?? false,
      stderrTruncated: r.stderrTruncated ?? false,
    };
  }

  async startAttachedExec(
    podId: string,
    taskName: string,
    argv: string[],
    o: { stdin: boolean; tty: boolean },
  ): Promise<string> {
    const [path, ...args] = argv;
    const joined = await this.createHandleTask(await this.handle(podId), {
      execIn: taskName,
      path,
      args,
      attach: true,
      openStdin: o.stdin,
      tty: o.tty,
    });
    await this.commitHandle(await this.bindTask(joined.handle, joined.id));
    return joined.id;
  }

  execOutput(id: string, which: 'stdout' | 'stderr', signal: AbortSignal): Promise<Readable> {
    const r = which === 'stdout' ? ROUTES.interactionStdout : ROUTES.interactionStderr;
    return this.http.stream(r.method, routePath(r, id), { signal });
  }

  execInput(id: string, input: Readable, signal: AbortSignal): Promise<void> {
    const r = ROUTES.interactionStdin;
    return this.http.upload(r.method, routePath(r, id), input, signal);
  }

  async execResize(id: string, size: { width: number; height: number }): Promise<void> {
    await this.call(ROUTES.interactionResize, [id], {
      query: { width: size.width, height: size.height },
      timeoutMs: 10_000,
    });
  }

  async execWait(podId: string, id: string, signal?: AbortSignal): Promise<number> {
    await this.call(ROUTES.taskWait, [], {
      body: { handle: await this.handle(podId), id },
      signal,
      timeoutMs: 2 ** 31 - 1,
    });
    const r = await this.call<TaskInspectResponse>(ROUTES.taskInspect, [], {
      body: { handle: await this.handle(podId), id },
      signal,
    });
    if (r.exitCode === undefined)
      throw new NodeError('Unavailable', `exec ${id} ended without an exit code`);
    return r.exitCode;
  }

  // ---- port-forward ----

  /** A connection to `port` on the pod's own loopback (our extension route): once connected. */
  portForward(id: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    const r = ROUTES.portForward;
    return upgradeRequest(this.http, r.method, routePath(r, id, String(port)), signal);
  }

  // ---- stats ----

  containerStats(id: string): Promise<ContainerStats> {
    return this.call(ROUTES.containerStats, [id], { query: { stream: false }, timeoutMs: 30_000 });
  }

  vchStats(): Promise<VCHStats> {
    return this.call(ROUTES.vchStats, [], { timeoutMs: 30_000 });
  }

  // ---- volumes ----

  createVolume(request: VolumeRequest): Promise<VolumeResponse> {
    return this.call(ROUTES.createVolume, [], { body: request });
  }

  getVolume(name: string): Promise<VolumeResponse> {
    return this.call(ROUTES.getVolume, [name], { timeoutMs: 30_000 });
  }

  listVolumes(): Promise<VolumeResponse[]> {
    return this.call(ROUTES.listVolumes, []);
  }

  async removeVolume(name: string): Promise<void> {
    await this.call(ROUTES.removeVolume, [name]);
  }

  async joinVolume(name: string, join: VolumeJoinConfig): Promise<string> {
    return (await this.call<HandleResponse>(ROUTES.volumeJoin, [name], { body: join })).handle;
  }

  async writeVolumeFiles(
    name: string,
    files: FileContent[],
    owner: { uid?: number; gid?: number } = {},
  ): Promise<void> {
    const body: WriteVolumeFilesRequest = {
      files: files.map((f) => ({
        path: f.path,
        data: f.data.toString('base64'),
        mode: f.mode,
        ...(f.uid !== undefined && { uid: f.uid }),
      })),
      ...owner,
    };
    await this.call(ROUTES.writeVolumeFiles, [name], { body });
  }

  logs(id: string, o: LogsOptions): Promise<Readable> {
    const r = ROUTES.containerLogs;
    return this.http.stream(r.method, routePath(r, id), {
      query: {
        follow: o.follow || undefined,
        since: o.since === undefined ? undefined : formatUnixNanos(o.since),
        timestamp: o.timestamps || undefined,
        taillines: o.tail,
        stream: o.stream,
        limitBytes: o.limitBytes,
        previous: o.previous || undefined,
      },
      signal: o.signal,
    });
  }
}

/** Unix seconds with up to nine decimals: VIC's `since` (whole seconds) to the nanosecond. */
export function formatUnixNanos(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs / 1_000_000_000n}${frac ? `.${frac}` : ''}`;
}
