// The VCH listener's side of its metrics: every request counted once answered, and /metrics
// (GET) answered with the Prometheus text exposition.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerMessage, fromBrowser, statusOf } from '../http-edge.js';
import type { VchLogger } from '../services/context.js';
import type { VchMetrics } from './vch-metrics.js';

export function countRequest(
  metrics: VchMetrics,
  api: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const began = performance.now();
  res.once('close', () =>
    metrics.request(
      api,
      req.method ?? '',
      req.url ?? '/',
      res.statusCode,
      (performance.now() - began) / 1000,
    ),
  );
}

export function serveMetrics(
  metrics: VchMetrics,
  req: IncomingMessage,
  res: ServerResponse,
  log?: VchLogger,
): void {
  const fail = (status: number, message: string): void => {
    res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`${message}\n`);
  };
  // A web page may not read the VCH's state either (see http-edge's fromBrowser).
  const browser = fromBrowser(req);
  if (browser) return fail(403, `requests from a web browser are refused (${browser})`);
  if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, '/metrics answers GET only');
  metrics.exposition().then(
    ({ contentType, body }) => {
      res.writeHead(200, { 'Content-Type': contentType }).end(body);
    },
    (err: unknown) => {
      log?.error({ err: answerMessage(err) }, 'metrics failed');
      fail(statusOf(err), answerMessage(err));
    },
  );
}
