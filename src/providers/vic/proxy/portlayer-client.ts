// IsolationProxy over HTTP: VIC's portlayer routes and models (src/vch/portlayer/models.ts).
import type { Readable } from 'node:stream';
import type {
  ContainerCreateConfig,
  ContainerCreatedInfo,
  ContainerInfo,
  ContainerStateName,
  HandleResponse,
  ImageJoinConfig,
  TaskJoinConfig,
  TaskJoinResponse,
  VCHInfo,
} from '../../../vch/portlayer/models.js';
import { HttpClient, type Endpoint } from './http.js';
import type { IsolationProxy, LogsOptions } from './isolation-proxy.js';

const seg = encodeURIComponent;

export class PortlayerClient implements IsolationProxy {
  private readonly http: HttpClient;

  constructor(
    endpoint: string | Endpoint,
    /** The image store name of image joins (VIC: the VCH's UUID). */
    private readonly storeName = 'default',
  ) {
    this.http = new HttpClient(endpoint, 'portlayer');
  }

  async ping(): Promise<void> {
    await this.http.json('GET', '/_ping', { timeoutMs: 10_000 });
  }

  vchInfo(): Promise<VCHInfo> {
    return this.http.json('GET', '/vch/info', { timeoutMs: 10_000 });
  }

  createHandle(config: ContainerCreateConfig): Promise<ContainerCreatedInfo> {
    return this.http.json('POST', '/containers', { query: { name: config.name }, body: config });
  }

  handle(id: string): Promise<string> {
    return this.http.json('GET', `/containers/${seg(id)}`);
  }

  async addImageToHandle(handle: string, image: Omit<ImageJoinConfig, 'handle'>) {
    const id = image.imageID ?? image.repoName ?? '';
    const r = await this.http.json<HandleResponse>(
      'POST',
      `/storage/${seg(this.storeName)}/info/${seg(id)}`,
      { body: { ...image, handle } },
    );
    return r.handle;
  }

  createHandleTask(
    handle: string,
    task: Omit<TaskJoinConfig, 'handle'>,
  ): Promise<TaskJoinResponse> {
    return this.http.json('POST', '/tasks', { body: { ...task, handle } });
  }

  async bindTask(handle: string, id: string): Promise<string> {
    return (
      await this.http.json<HandleResponse>('POST', '/tasks/binding', { body: { handle, id } })
    ).handle;
  }

  async addLoggingToHandle(handle: string): Promise<string> {
    return (await this.http.json<HandleResponse>('POST', '/logging', { body: { handle } })).handle;
  }

  async addInteractionToHandle(handle: string): Promise<string> {
    return (await this.http.json<HandleResponse>('POST', '/interaction', { body: { handle } }))
      .handle;
  }

  setState(handle: string, state: ContainerStateName): Promise<string> {
    // A JSON string, as go-swagger's client sends a string body.
    return this.http.json('PUT', `/containers/${seg(handle)}/state`, {
      body: JSON.stringify(state),
      headers: { 'content-type': 'application/json' },
    });
  }

  async commitHandle(handle: string, waitTimeSec?: number): Promise<void> {
    // A stop waits for its grace period inside the commit: give it that long and a minute more.
    const timeoutMs = ((waitTimeSec ?? 0) + 120) * 1000;
    await this.http.json('PUT', `/containers/${seg(handle)}`, {
      query: { wait_time: waitTimeSec },
      timeoutMs,
    });
  }

  async remove(id: string, force = false): Promise<void> {
    await this.http.json('DELETE', `/containers/${seg(id)}`, { query: { force } });
  }

  info(id: string): Promise<ContainerInfo> {
    return this.http.json('GET', `/containers/info/${seg(id)}`);
  }

  list(all = true): Promise<ContainerInfo[]> {
    return this.http.json('GET', '/containers/list', { query: { all } });
  }

  async signal(id: string, signal: number): Promise<void> {
    await this.http.json('POST', `/containers/${seg(id)}/signal`, { query: { signal } });
  }

  wait(id: string, timeoutSec: number, signal?: AbortSignal): Promise<ContainerInfo> {
    return this.http.json('GET', `/containers/${seg(id)}/wait`, {
      query: { timeout: timeoutSec },
      signal,
      timeoutMs: (timeoutSec + 30) * 1000,
    });
  }

  logs(id: string, o: LogsOptions): Promise<Readable> {
    return this.http.stream('GET', `/containers/${seg(id)}/logs`, {
      query: {
        follow: o.follow || undefined,
        since: o.since === undefined ? undefined : formatUnixNanos(o.since),
        timestamp: o.timestamps || undefined,
        taillines: o.tail,
        stream: o.stream,
        limitBytes: o.limitBytes,
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
