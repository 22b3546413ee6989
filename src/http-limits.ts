// What every HTTP listener of ours (the VCH's persona and portlayer, the kubelet API) accepts of
// a request before a handler sees it: the size of its headers and how long they may take to
// arrive. Bodies are each handler's (http-edge.ts readBody for JSON, 1 MiB; `docker load`'s
// archive, 16 GiB); a handler that reads no body lets a declared one through only up to
// MAX_UNREAD_BODY_BYTES. A leaf: imports nothing of ours.
import type { IncomingMessage } from 'node:http';

/** Request line and headers together; Node's own default, made explicit. Beyond: 431. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** A client that has not sent its whole headers by then is cut off (408). */
export const HEADERS_TIMEOUT_MS = 30_000;
/** A body sent to a route that reads none (the kubelet API's): discarded, up to this. */
export const MAX_UNREAD_BODY_BYTES = 64 * 1024;

/** The options of node:http(s) createServer that set the limits above. */
export const serverLimits = {
  maxHeaderSize: MAX_HEADER_BYTES,
  headersTimeout: HEADERS_TIMEOUT_MS,
} as const;

/** The status and message for a malformed request Node refused before any handler ran. */
export function clientErrorAnswer(err: NodeJS.ErrnoException): string {
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return `HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n`;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return `HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n`;
  return 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
}

/** Whether a request declares a body larger than a route that reads none will take. */
export function declaresTooLargeBody(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  return length > MAX_UNREAD_BODY_BYTES;
}
