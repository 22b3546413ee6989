// What the VCH's two HTTP edges (persona: Docker's API; portlayer: VIC's) share: the status of an
// error (errdefs' one mapping from kind to status), bodies read with a size limit, JSON answers.
// Each edge keeps its own error body and query conventions (Docker's lenient, the portlayer's
// strict).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, httpStatusOf } from '../errdefs.js';
import type { VchLogger } from './services/context.js';

// The mapping itself lives in errdefs, shared with the kubelet API; the edges name it statusOf.
export { HttpError, httpStatusOf as statusOf } from '../errdefs.js';

/** Largest request body we read as JSON (a container create body is a few KiB). */
export const MAX_JSON_BODY = 1 << 20;

/** An error's message, first line only: never a stack in an answer. */
export function oneLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0];
}

/** The message an error answers with: 500s say they are internal. */
export function answerMessage(err: unknown, status = httpStatusOf(err)): string {
  return status === 500 ? `internal error: ${oneLine(err)}` : oneLine(err);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Reads a body of at most `limit` bytes; 413 beyond. */
export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** What differs between the edges in handling a request. */
export interface Edge {
  /** How the edge's requests are named in the log ("request", "portlayer request"). */
  what: string;
  log?: Pick<VchLogger, 'debug' | 'error'>;
  /** Answers an error with the edge's own error body. */
  sendError: (res: ServerResponse, err: unknown) => void;
}

/**
 * A request a web browser made: it carries `Origin`, as every cross-site POST, every CORS
 * preflight and every fetch from a page does. Neither the docker CLI nor the provider sends it,
 * so such a request is a page trying to drive the VCH (CSRF: a page on any site can POST to a
 * loopback port), and is refused before it is read.
 */
export function fromBrowser(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  return origin === undefined ? undefined : `Origin ${JSON.stringify(origin)}`;
}

/** A body that must be JSON comes as application/json (a browser form cannot send that). */
export function checkJsonType(req: IncomingMessage, body: Buffer): void {
  if (body.length === 0) return;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json')
    throw new HttpError(
      415,
      `request body must be JSON sent as Content-Type: application/json (got ${type === '' ? 'none' : JSON.stringify(type)})`,
    );
}

/**
 * Handles one request on an edge: `handle` gets a signal that aborts when the client goes
 * away; an error it throws is answered with the edge's error body and logged when it is the
 * server's fault (5xx); every request is logged at debug with its status and time.
 */
export function serveRequest(
  req: IncomingMessage,
  res: ServerResponse,
  edge: Edge,
  handle: (signal: AbortSignal) => Promise<void>,
): void {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort(new Error('client went away'));
  });
  const started = Date.now();
  void (async () => {
    try {
      const browser = fromBrowser(req);
      if (browser) throw new HttpError(403, `requests from a web browser are refused (${browser})`);
      await handle(ac.signal);
    } catch (e) {
      if (httpStatusOf(e) >= 500)
        edge.log?.error(
          { method: req.method, url: req.url, err: oneLine(e), stack: (e as Error).stack },
          `${edge.what} failed`,
        );
      edge.sendError(res, e);
    } finally {
      edge.log?.debug(
        { method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started },
        edge.what,
      );
    }
  })();
}
