// The VCH's Prometheus metrics, served at /metrics beside its Docker API: requests to its two
// APIs by route and status, image pulls (bytes fetched and seconds), container starts and
// exits, pod VM boot seconds, and the bytes of container output its logs hold. One instance
// per VCH, over a Registry of its own (never prom-client's global one), so that several VCHs in
// one process (tests) keep theirs apart.
import { lstat } from 'node:fs/promises';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PullProgress } from '../../image/index.js';
import type { PullRequest } from '../types.js';

/** Path segments kept as they are in a route label; anything else (ids, names) is `{}`. */
const WORDS = new Set(
  (
    'containers images volumes events info version _ping auth build exec system networks ' +
    'json create start stop kill wait logs attach resize stats top changes export archive ' +
    'restart pause unpause rename update prune push tag history search load get df inspect ' +
    'portlayer handle handles tasks interaction storage scopes vch ping commit join bind ' +
    'unbind remove state metrics'
  ).split(' '),
);

/** A bounded route label of a request path: API version dropped, ids and names as `{}`. */
export function routeLabel(rawPath: string): string {
  const path = rawPath.split('?')[0]!.replace(/^\/v\d+\.\d+(?=\/)/, '');
  const parts = path.split('/').slice(1);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === '')) return '/';
  return '/' + parts.map((p) => (WORDS.has(p) ? p : '{}')).join('/');
}

export class VchMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter;
  private readonly requestSeconds: Histogram;
  private readonly pullBytes: Counter;
  private readonly pullSeconds: Histogram;
  private readonly starts: Counter;
  private readonly exits: Counter;
  private readonly boots: Histogram;

  constructor(
    /** The log files of the VCH's containers now (collected at each scrape). */
    logFiles: () => string[],
  ) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'vch_api_requests_total',
      help: 'Requests the VCH answered, by API (persona, portlayer, metrics), method, route and status',
      labelNames: ['api', 'method', 'route', 'code'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'vch_api_request_duration_seconds',
      help: 'How long the VCH took to answer a request, by API and route',
      labelNames: ['api', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.pullBytes = new Counter({
      name: 'vch_image_pull_bytes_total',
      help: 'Bytes of image layers fetched from registries',
      registers,
    });
    this.pullSeconds = new Histogram({
      name: 'vch_image_pull_duration_seconds',
      help: 'How long image pulls took, by result',
      labelNames: ['result'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.starts = new Counter({
      name: 'vch_container_starts_total',
      help: 'Container starts (restarts included)',
      registers,
    });
    this.exits = new Counter({
      name: 'vch_container_exits_total',
      help: 'Container exits, by whether the exit code was 0',
      labelNames: ['result'],
      registers,
    });
    this.boots = new Histogram({
      name: 'vch_vm_boot_duration_seconds',
      help: 'How long pod VMs took to boot (until the guest agent answered), by accelerator',
      labelNames: ['accel'],
      buckets: [0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60],
      registers,
    });
    new Gauge({
      name: 'vch_container_log_bytes',
      help: "Bytes of container output the VCH's logs hold now",
      registers,
      async collect() {
        let total = 0;
        // lstat: a link is not followed; only regular files count.
        for (const f of logFiles()) {
          const st = await lstat(f).catch(() => undefined);
          if (st?.isFile()) total += st.size;
        }
        this.set(total);
      },
    });
  }

  request(api: string, method: string, path: string, code: number, seconds: number): void {
    const route = routeLabel(path);
    this.requests.inc({ api, method, route, code: String(code) });
    this.requestSeconds.observe({ api, route }, seconds);
  }

  /** The request, its progress counted: bytes of each layer as it downloads. */
  pulling(req: PullRequest): { req: PullRequest; done: (ok: boolean) => void } {
    const began = performance.now();
    const counted = new Map<string, number>();
    const onProgress = (e: PullProgress) => {
      if ((e.status === 'Downloading' || e.status === 'Verifying') && e.current !== undefined) {
        const before = counted.get(e.id) ?? 0;
        if (e.current > before) {
          this.pullBytes.inc(e.current - before);
          counted.set(e.id, e.current);
        }
      }
      req.onProgress?.(e);
    };
    return {
      req: { ...req, onProgress },
      done: (ok) =>
        this.pullSeconds.observe(
          { result: ok ? 'success' : 'failure' },
          (performance.now() - began) / 1000,
        ),
    };
  }

  containerStarted(): void {
    this.starts.inc();
  }

  containerExited(exitCode: number): void {
    this.exits.inc({ result: exitCode === 0 ? 'success' : 'failure' });
  }

  vmBooted(ms: number, accel: string): void {
    this.boots.observe({ accel }, ms / 1000);
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
