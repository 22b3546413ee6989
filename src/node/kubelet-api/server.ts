// The kubelet's HTTPS API, as much of it as a virtual node serves: container logs (what
// `kubectl logs` reaches through the apiserver), exec (SPDY/3.1 or WebSocket upgrade) and /run, the pod
// list, health and stats. Every request
// is authenticated and authorized first; no credentials → 401, not allowed → 403.
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { HttpError, httpStatusOf } from '../../errdefs.js';
import { MAX_UNREAD_BODY_BYTES, declaresTooLargeBody, serverLimits } from '../../http-limits.js';
import { errorMessage, notFound } from '../errors.js';
import type { Logger } from '../../logging/logger.js';
import type { Provider } from '../provider.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';
import type { Authenticator } from './auth.js';
import { parseExecRequest, podContainerOf } from './exec-request.js';
import { parseLogQuery } from './log-options.js';
import { runCommand } from './run.js';
import { isSpdyUpgrade, serveSpdyExec } from './spdy-exec.js';
import { isWebSocketUpgrade, serveWebSocketExec } from './ws-exec.js';
import { StatsRoutes } from './stats-routes.js';
import { rejectUpgrade } from './upgrade.js';
import { servePortForward } from './port-forward-route.js';

export interface KubeletServerOptions {
  /** PEM serving certificate and key. */
  cert: Buffer | string;
  key: Buffer | string;
  /** PEM CA bundle that signs acceptable client certificates; none: tokens only. */
  clientCa?: Buffer | string;
  host?: string;
  port: number;
  /** The Node's name, as /stats/summary reports it. */
  nodeName?: string;
  /** The node's metrics: served at /metrics, and every request counted in them. */
  metrics?: NodeMetrics;
}

export class KubeletServer {
  private server: Server | undefined;
  private readonly stats: StatsRoutes;

  constructor(
    private readonly provider: Provider,
    private readonly auth: Authenticator,
    private readonly o: KubeletServerOptions,
    private readonly log: Logger,
  ) {
    this.stats = new StatsRoutes(provider, o.nodeName ?? '', log);
  }

  async start(): Promise<number> {
    const server = createServer(
      {
        ...serverLimits,
        cert: this.o.cert,
        key: this.o.key,
        ca: this.o.clientCa,
        // Ask for a certificate but let requests without one through to the token check;
        // socket.authorized says whether a presented one chains to the client CA.
        requestCert: this.o.clientCa !== undefined,
        rejectUnauthorized: false,
      },
      (req, res) => void this.handle(req, res),
    );
    // exec's SPDY upgrade: authenticated and authorized as every request is.
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => undefined);
      void this.upgrade(req, socket, head).catch((err: unknown) => {
        if (httpStatusOf(err) === 500)
          this.log.error({ err: errorMessage(err) }, 'kubelet API upgrade failed');
        rejectUpgrade(socket, httpStatusOf(err), errorMessage(err));
      });
    });
    this.server = server;
    server.listen(this.o.port, this.o.host ?? '0.0.0.0');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const began = performance.now();
    res.once('close', () =>
      this.o.metrics?.httpRequest(
        req.method ?? '',
        req.url ?? '/',
        res.statusCode,
        (performance.now() - began) / 1000,
      ),
    );
    // No route here reads a body: a large one is refused before anything else is done.
    if (declaresTooLargeBody(req)) {
      res.shouldKeepAlive = false;
      return this.fail(
        res,
        new HttpError(413, `request body larger than ${MAX_UNREAD_BODY_BYTES} bytes`),
      );
    }
    let path: string;
    let query: URLSearchParams;
    try {
      const url = new URL(req.url ?? '/', 'https://kubelet');
      path = url.pathname;
      query = url.searchParams;
    } catch {
      return this.fail(res, new HttpError(400, 'malformed request URL'));
    }
    const verdict = await this.auth.check(req, path);
    if (!verdict.ok) {
      const { cause } = verdict.error;
      this.log.info(
        { path, status: httpStatusOf(verdict.error), ...(cause !== undefined && { cause }) },
        'kubelet API request refused',
      );
      return this.fail(res, verdict.error);
    }
    try {
      await this.route(req, res, path, query);
    } catch (err) {
      this.fail(res, err);
    }
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
  ): Promise<void> {
    const parts = path.split('/').slice(1);
    const head = parts[0];
    if (head === 'exec')
      // The kubelet's answer to an exec that is not an upgrade.
      throw new HttpError(400, 'Upgrade request required');
    if (head === 'run') {
      if (req.method !== 'POST') throw new HttpError(405, '/run answers POST only');
      return runCommand(this.provider, res, parts, query);
    }
    if (head === 'portForward') throw new HttpError(400, 'Upgrade request required');
    if (head === 'attach') throw new HttpError(400, 'Upgrade request required');
    const get = (what: string) => {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new HttpError(405, `${what} answers GET only`);
    };
    if (path === '/healthz') {
      get(path);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (path === '/pods' || path === '/pods/') {
      get('/pods');
      // With each pod's status as the provider reports it now, as kubelet's /pods has.
      const items = await Promise.all(
        (await this.provider.getPods()).map(async (pod) => ({
          ...pod,
          status:
            (await this.provider.getPodStatus(pod.metadata!.namespace!, pod.metadata!.name!)) ??
            pod.status,
        })),
      );
      const body = { kind: 'PodList', apiVersion: 'v1', metadata: {}, items };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    if (path === '/metrics' && this.o.metrics) {
      get(path);
      const { contentType, body } = await this.o.metrics.exposition();
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return;
    }
    if (StatsRoutes.serves(path)) {
      get(path);
      return this.stats.serve(res, path, query);
    }
    if (head === 'containerLogs') {
      get('/containerLogs');
      const [namespace, pod, container] = podContainerOf(parts, 'containerLogs');
      return this.containerLogs(req, res, namespace, pod, container, query);
    }
    throw new HttpError(404, `no such path: ${path}`);
  }

  /** An upgrade request: exec over SPDY/3.1; anything else is refused with a status. */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://kubelet');
    } catch {
      throw new HttpError(400, 'malformed request URL');
    }
    const verdict = await this.auth.check(req, url.pathname);
    if (!verdict.ok) {
      this.log.info(
        { path: url.pathname, status: httpStatusOf(verdict.error) },
        'kubelet API request refused',
      );
      throw verdict.error;
    }
    const parts = url.pathname.split('/').slice(1);
    if (parts[0] === 'portForward')
      return servePortForward(req, socket, head, this.provider, parts, url.searchParams, this.log);
    if (parts[0] !== 'exec' && parts[0] !== 'attach')
      throw new HttpError(404, `no upgrade is served at ${url.pathname}`);
    if (req.method !== 'POST' && req.method !== 'GET')
      throw new HttpError(405, `/${parts[0]} answers GET and POST only`);
    const exec = parseExecRequest(parts, url.searchParams);
    const ws = isWebSocketUpgrade(req);
    if (!ws && !isSpdyUpgrade(req))
      throw new HttpError(
        400,
        `unsupported upgrade ${JSON.stringify(req.headers.upgrade ?? '')}: want SPDY/3.1 or websocket`,
      );
    if (!(await this.provider.getPod(exec.namespace, exec.pod)))
      throw notFound(`pod ${exec.namespace}/${exec.pod} is not on this node`);
    if (ws) await serveWebSocketExec(req, socket, head, this.provider, exec, this.log);
    else await serveSpdyExec(req, socket, head, this.provider, exec, this.log);
  }

  private async containerLogs(
    req: IncomingMessage,
    res: ServerResponse,
    namespace: string,
    pod: string,
    container: string,
    query: URLSearchParams,
  ): Promise<void> {
    const options = parseLogQuery(query);
    if (!(await this.provider.getPod(namespace, pod)))
      throw notFound(`pod ${namespace}/${pod} is not on this node`);
    const abort = new AbortController();
    const onClose = () => abort.abort();
    res.on('close', onClose);
    const stream = await this.provider.getContainerLogs(namespace, pod, container, {
      ...options,
      signal: abort.signal,
    });
    try {
      res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
      // Headers go now: a follow with nothing to say yet must still answer.
      res.flushHeaders();
      for await (const chunk of stream) {
        if (abort.signal.aborted) break;
        // Each write goes to the socket at once (Node does not hold chunks back): a follower
        // sees every line as it is written.
        if (!res.write(chunk)) await once(res, 'drain', { signal: abort.signal });
      }
      res.end();
    } catch (err) {
      if (!abort.signal.aborted) {
        this.log.warn(
          { pod: `${namespace}/${pod}`, container, err: errorMessage(err) },
          'log stream failed',
        );
        res.destroy();
      }
    } finally {
      res.off('close', onClose);
      stream.destroy();
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    const status = httpStatusOf(err);
    if (status === 500) this.log.error({ err: errorMessage(err) }, 'kubelet API request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain' }).end(`${errorMessage(err)}\n`);
  }
}
