// The one HTTP client both proxies use: node:http over a unix socket or loopback TCP, JSON in
// and out, and every failure turned into a NodeError whose kind says what to do about it
// (NotFound, Conflict, InvalidInput: the VCH said no; Unavailable: it could not be reached).
import type { Readable } from 'node:stream';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { kindOfHttpStatus } from '../../../errdefs.js';
import { NodeError } from '../../../node/errors.js';

export interface Endpoint {
  /** Unix socket path, or undefined for TCP. */
  socketPath?: string;
  host?: string;
  port?: number;
  /** Prefix of every path ("" or "/portlayer"). */
  basePath: string;
  /** How the endpoint was written, for messages. */
  text: string;
}

/**
 * Parses `unix:///run/vch.sock`, `unix:///run/vch.sock#/portlayer` (a prefix after '#'),
 * or `http://127.0.0.1:2377[/prefix]`.
 */
export function parseEndpoint(text: string): Endpoint {
  if (text.startsWith('unix://')) {
    const [path, prefix = ''] = text.slice('unix://'.length).split('#', 2);
    if (!path.startsWith('/'))
      throw new NodeError('InvalidInput', `${text}: a unix endpoint needs an absolute socket path`);
    return { socketPath: path, basePath: prefix.replace(/\/$/, ''), text };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NodeError('InvalidInput', `${text}: want http://HOST:PORT or unix:///PATH`);
  }
  if (url.protocol !== 'http:')
    throw new NodeError('InvalidInput', `${text}: want http://HOST:PORT or unix:///PATH`);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || 80),
    basePath: url.pathname.replace(/\/$/, ''),
    text,
  };
}

export type Query = Record<string, string | number | boolean | bigint | undefined>;

export interface RequestOptions {
  query?: Query;
  /** JSON-encoded unless a string or Buffer. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Whole-request timeout for non-streaming calls (ms). Default 120 s. */
  timeoutMs?: number;
}

export class HttpClient {
  readonly endpoint: Endpoint;

  constructor(
    endpoint: string | Endpoint,
    /** Names the server in messages: "portlayer", "persona". */
    readonly server: string,
  ) {
    this.endpoint = typeof endpoint === 'string' ? parseEndpoint(endpoint) : endpoint;
  }

  /** Sends a request; resolves with the response whatever its status (the body unread). */
  send(method: string, path: string, o: RequestOptions = {}): Promise<IncomingMessage> {
    const { socketPath, host, port, basePath } = this.endpoint;
    let body: Buffer | undefined;
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) {
      if (Buffer.isBuffer(o.body)) body = o.body;
      else if (typeof o.body === 'string') body = Buffer.from(o.body);
      else {
        body = Buffer.from(JSON.stringify(o.body));
        headers['content-type'] ??= 'application/json';
      }
      headers['content-length'] = String(body.length);
    }
    const fullPath = basePath + path + queryString(o.query);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { socketPath, host, port, method, path: fullPath, headers, signal: o.signal },
        resolve,
      );
      req.on('error', (err) => {
        if (o.signal?.aborted) reject(err);
        else
          reject(
            new NodeError(
              'Unavailable',
              `${this.server} at ${this.endpoint.text}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
              { cause: err },
            ),
          );
      });
      req.end(body);
    });
  }

  /**
   * A request whose body is a stream (sent chunked, with backpressure) until it ends or
   * `signal` aborts; resolves with the answer once the server has given it (2xx, else throws).
   * The source is unpiped, never destroyed, when the request ends early.
   */
  upload(method: string, path: string, body: Readable, signal: AbortSignal): Promise<void> {
    const { socketPath, host, port, basePath } = this.endpoint;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          socketPath,
          host,
          port,
          method,
          path: basePath + path,
          headers: { 'content-type': 'application/octet-stream' },
          signal,
        },
        (res) => {
          void readText(res).then((text) => {
            if (res.statusCode! >= 400) reject(responseError(this.server, method, path, res, text));
            else resolve();
          }, reject);
        },
      );
      req.on('error', (err) => {
        body.unpipe(req);
        reject(err);
      });
      body.pipe(req);
    });
  }

  /** A request whose answer is JSON (or nothing); a 4xx/5xx becomes a NodeError. */
  async json<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    // A timer cleared when the answer is in, and the caller's signal followed only until then:
    // AbortSignal.timeout's timer (and AbortSignal.any's link to a long-lived signal) outlive
    // the request, so a node starting pods held thousands of them (a 120 s timer a request).
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, o.timeoutMs ?? 120_000);
    const follow = () => ac.abort(o.signal?.reason);
    if (o.signal?.aborted) follow();
    else o.signal?.addEventListener('abort', follow, { once: true });
    let res: IncomingMessage;
    let text: string;
    try {
      res = await this.send(method, path, { ...o, signal: ac.signal });
      text = await readText(res);
    } catch (err) {
      if (timedOut && !o.signal?.aborted)
        throw new NodeError('Unavailable', `${this.server}: ${method} ${path} timed out`);
      throw err;
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', follow);
    }
    if (res.statusCode! >= 400) throw responseError(this.server, method, path, res, text);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new NodeError(
        'Unavailable',
        `${this.server}: ${method} ${path} answered with something that is not JSON`,
      );
    }
  }

  /** A streaming request: resolves with the response once it is 2xx, else throws. */
  async stream(method: string, path: string, o: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.send(method, path, o);
    if (res.statusCode! >= 400) {
      const text = await readText(res);
      throw responseError(this.server, method, path, res, text);
    }
    return res;
  }
}

/**
 * An upgrade request (`Upgrade: tcp`): resolves with the connection once the server switched
 * protocols (101); any other answer becomes a NodeError of its status's kind.
 */
export function upgradeRequest(
  client: HttpClient,
  method: string,
  path: string,
  signal?: AbortSignal,
): Promise<Duplex> {
  const { socketPath, host, port, basePath, text } = client.endpoint;
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      socketPath,
      host,
      port,
      method,
      path: basePath + path,
      headers: { connection: 'Upgrade', upgrade: 'tcp' },
      signal,
    });
    req.on('upgrade', (_res, socket: Duplex, head: Buffer) => {
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res) => {
      void readText(res).then(
        (body) => reject(responseError(client.server, method, path, res, body)),
        reject,
      );
    });
    req.on('error', (err) =>
      reject(
        signal?.aborted
          ? err
          : new NodeError(
              'Unavailable',
              `${client.server} at ${text}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
              { cause: err },
            ),
      ),
    );
    req.end();
  });
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The server's one-line message (portlayer and Docker both send {message}). */
export function responseError(
  server: string,
  method: string,
  path: string,
  res: IncomingMessage,
  text: string,
): NodeError {
  let message = text.trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed?.message === 'string') message = parsed.message;
  } catch {}
  if (!message) message = `${method} ${path}: HTTP ${res.statusCode}`;
  return new NodeError(kindOfHttpStatus(res.statusCode!), `${server}: ${message}`);
}
