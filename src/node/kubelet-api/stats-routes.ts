// The kubelet API's usage routes: /stats/summary (the stats/v1alpha1 Summary as JSON) and
// /metrics/resource (Prometheus text, what metrics-server scrapes), both made from the
// provider's getStats. Authorized before they get here as the kubelet does: /stats/… as the
// node's `stats` subresource, /metrics/… as `metrics` (auth.ts).
import type { ServerResponse } from 'node:http';
import { HttpError } from '../../errdefs.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../../logging/logger.js';
import type { Provider } from '../provider.js';
import { resourceMetrics, SummaryBuilder } from '../stats/index.js';

/** The text format version metrics-server (and Prometheus) expect. */
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

export class StatsRoutes {
  readonly #summary: SummaryBuilder;

  constructor(
    private readonly provider: Provider,
    nodeName: string,
    private readonly log: Logger,
  ) {
    this.#summary = new SummaryBuilder(nodeName);
  }

  /** Whether `path` is one of these routes. */
  static serves(path: string): boolean {
    return path === '/stats/summary' || path === '/metrics/resource';
  }

  async serve(res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const getStats = this.provider.getStats?.bind(this.provider);
    if (!getStats) throw new HttpError(501, `${path} is not implemented by this node's provider`);
    if (path === '/stats/summary') {
      // The kubelet's only_cpu_and_memory=true: the same document, without fs and network.
      const only = query.get('only_cpu_and_memory');
      if (only !== null && only !== 'true' && only !== 'false')
        throw new HttpError(
          400,
          `invalid only_cpu_and_memory ${JSON.stringify(only)}: want true or false`,
        );
      const summary = this.#summary.build(await getStats());
      const body =
        only === 'true'
          ? {
              node: { ...summary.node, fs: undefined, runtime: undefined },
              pods: summary.pods.map((p) => ({
                podRef: p.podRef,
                startTime: p.startTime,
                cpu: p.cpu,
                memory: p.memory,
                containers: p.containers.map(({ name, startTime, cpu, memory }) => ({
                  name,
                  startTime,
                  cpu,
                  memory,
                })),
              })),
            }
          : summary;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    // The kubelet answers /metrics/resource even when the figures fail: resource_scrape_error 1.
    const usage = await getStats().catch((err: unknown) => {
      this.log.warn({ err: errorMessage(err) }, 'resource metrics: cannot read usage');
      return undefined;
    });
    res.writeHead(200, { 'content-type': PROMETHEUS_TEXT }).end(resourceMetrics(usage));
  }
}
