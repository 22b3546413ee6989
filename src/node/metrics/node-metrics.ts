// The virtual kubelet's own Prometheus metrics (its /metrics, as the kubelet's): pods running,
// how long pods take to start, the kubelet API's requests by route and code, the apiserver
// client's requests, and errors. One instance per node, over a Registry it is given, so that
// several nodes in one process (tests) keep theirs apart.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The kubelet API's routes, as the path's first segment; anything else counts as "other". */
const ROUTES = new Set([
  'containerLogs',
  'exec',
  'run',
  'attach',
  'portForward',
  'pods',
  'healthz',
  'stats',
  'metrics',
  'logs',
]);

export function routeOf(path: string): string {
  const head = path.split('?')[0]!.split('/')[1] ?? '';
  return ROUTES.has(head) ? head : 'other';
}

/** Where a node's errors come from. */
export type ErrorSource = 'pod_sync' | 'node_status' | 'event' | 'lease';

export class NodeMetrics {
  private readonly podStart: Histogram;
  private readonly httpRequests: Counter;
  private readonly httpDuration: Histogram;
  private readonly restRequests: Counter;
  private readonly restDuration: Histogram;
  private readonly errors: Counter;
  /** Pods that have been seen and are not running yet: uid → when first seen (ms). */
  private readonly firstSeen = new Map<string, number>();
  private readonly started = new Set<string>();

  constructor(
    readonly registry: Registry,
    /** The pods running on the node now (collected at each scrape). */
    runningPods: () => number,
    options: { processMetrics?: boolean } = {},
  ) {
    const registers = [registry];
    new Gauge({
      name: 'kubelet_running_pods',
      help: 'Number of pods that are running on this node',
      registers,
      collect() {
        this.set(runningPods());
      },
    });
    this.podStart = new Histogram({
      name: 'kubelet_pod_start_duration_seconds',
      help: 'Duration in seconds from the node seeing a pod for the first time to the pod running',
      buckets: [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'kubelet_http_requests_total',
      help: 'Number of requests the kubelet API answered, by method, route and HTTP status',
      labelNames: ['method', 'path', 'code'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'kubelet_http_requests_duration_seconds',
      help: 'Duration in seconds of the kubelet API requests, by method, route and HTTP status',
      labelNames: ['method', 'path', 'code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.restRequests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests to the apiserver, by status code, method and host',
      labelNames: ['code', 'method', 'host'],
      registers,
    });
    this.restDuration = new Histogram({
      name: 'rest_client_request_duration_seconds',
      help: 'Request latency in seconds to the apiserver, by verb and host',
      labelNames: ['verb', 'host'],
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      registers,
    });
    this.errors = new Counter({
      name: 'vic_kubelet_errors_total',
      help: 'Number of errors of the node, by where they happened',
      labelNames: ['source'],
      registers,
    });
    if (options.processMetrics) processMetrics(registers);
  }

  /** A pod bound to the node, seen (it counts from the first time). */
  podSeen(uid: string, now = Date.now()): void {
    if (!this.started.has(uid) && !this.firstSeen.has(uid)) this.firstSeen.set(uid, now);
  }

  /** The pod's status now says Running: its start is observed once. */
  podRunning(uid: string, now = Date.now()): void {
    const seen = this.firstSeen.get(uid);
    if (seen === undefined) return;
    this.firstSeen.delete(uid);
    this.started.add(uid);
    this.podStart.observe((now - seen) / 1000);
  }

  /** The pod has gone: nothing more is kept of it. */
  podGone(uid: string): void {
    this.firstSeen.delete(uid);
    this.started.delete(uid);
  }

  httpRequest(method: string, path: string, code: number, seconds: number): void {
    const labels = { method, path: routeOf(path), code: String(code) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  /** One request to the apiserver; code "<error>" when it never got an answer. */
  restRequest(method: string, host: string, code: number | undefined, seconds: number): void {
    this.restRequests.inc({ code: code === undefined ? '<error>' : String(code), method, host });
    this.restDuration.observe({ verb: method, host }, seconds);
  }

  error(source: ErrorSource): void {
    this.errors.inc({ source });
  }

  /** The text exposition and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * The process's own standard metrics (process_*). Not prom-client's default set: some of its
 * nodejs_* gauges end in _total, which `promtool check metrics` rejects.
 */
function processMetrics(registers: Registry[]): void {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds',
    registers,
    collect() {
      this.set(startSeconds);
    },
  });
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds',
    registers,
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc((u.user + u.system) / 1e6);
    },
  });
}
