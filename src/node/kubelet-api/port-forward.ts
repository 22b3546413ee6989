// Port-forward over SPDY/3.1, as the kube-apiserver reaches the kubelet for `kubectl
// port-forward` (`portforward.k8s.io`): for each connection the client opens a pair of
// streams carrying `streamtype` (error, data), `port` and `requestid`; once a pair is
// complete the provider connects to the port inside the pod and the data stream carries that
// connection's bytes both ways. A failure is written on the pair's error stream as the
// kubelet words it; then both streams are closed. Pairs are bounded per connection.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { splice } from '../../api/splice.js';
import type { Logger } from '../../logging/logger.js';
import { errorMessage } from '../errors.js';
import type { Provider } from '../provider.js';
import { SpdySession } from './spdy/session.js';
import type { SpdyStream } from './spdy/stream.js';
import { rejectUpgrade } from './upgrade.js';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** The pod a port-forward reaches: `/portForward/{namespace}/{pod}[/{uid}]`. */
export interface PortForwardTarget {
  namespace: string;
  pod: string;
  uid?: string;
}

export interface PortForwardOptions {
  /** How long a pair may wait for its other stream. */
  streamCreationTimeoutMs?: number;
  /** A connection with no traffic this long is closed. */
  idleTimeoutMs?: number;
  /** Pairs (forwarded connections) open at once on one connection. */
  maxPairs?: number;
}

/** One forwarded connection's streams, by request id. */
interface Pair {
  error?: SpdyStream;
  data?: SpdyStream;
  port: number;
  timer: NodeJS.Timeout;
}

/** The header that names a stream's port, checked as the kubelet does: 1 to 65535. */
export function parseForwardPort(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** The kubelet's wording of a failed forward (its error stream's text). */
export function forwardError(t: PortForwardTarget, port: number, why: string): string {
  return `error forwarding port ${port} to pod ${t.pod}, uid ${t.uid ?? ''}: ${why}`;
}

/**
 * Connects to `port` in the pod and joins it to `data` until both ends are done; a failure
 * to connect is written on `error` (the kubelet's words). Both streams end after.
 */
export async function forwardOne(
  provider: Provider,
  target: PortForwardTarget,
  port: number,
  data: Duplex,
  error: Duplex,
  signal: AbortSignal,
): Promise<void> {
  try {
    if (!provider.portForward) throw new Error('this node cannot forward ports');
    const conn = await provider.portForward(target.namespace, target.pod, port, signal);
    await splice(data, conn);
  } catch (err) {
    // As the kubelet: the reason on the error stream, and the data stream closed (what the
    // client still sends is read and dropped).
    if (!error.destroyed) error.write(forwardError(target, port, errorMessage(err)));
    data.resume();
    data.end();
  } finally {
    if (!error.destroyed) error.end();
  }
}

export async function serveSpdyPortForward(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  provider: Provider,
  target: PortForwardTarget,
  log: Logger,
  o: PortForwardOptions = {},
): Promise<void> {
  const offered = (req.headersDistinct['x-stream-protocol-version'] ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim());
  // No protocol asked: the legacy handshake (no header echoed), as the kubelet allows.
  if (offered.length > 0 && !offered.includes(PORT_FORWARD_PROTOCOL))
    return rejectUpgrade(socket, 403, 'unable to upgrade: no common stream protocol version', [
      ['X-Accepted-Stream-Protocol-Versions', PORT_FORWARD_PROTOCOL],
    ]);
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
      (offered.length > 0 ? `X-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n` : '') +
      '\r\n',
  );
  if (head.length > 0) socket.unshift(head);
  const session = new SpdySession(socket, { server: true });
  const abort = new AbortController();
  const pairs = new Map<string, Pair>();
  const creationMs = o.streamCreationTimeoutMs ?? 30_000;
  const maxPairs = o.maxPairs ?? 256;
  (socket as Socket).setTimeout?.(o.idleTimeoutMs ?? 4 * 3600_000, () => void session.close());

  const drop = (id: string) => {
    const p = pairs.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    pairs.delete(id);
  };
  const fail = (p: Pair | undefined, stream: SpdyStream, message: string) => {
    const error = p?.error ?? (stream.header('streamtype') === 'error' ? stream : undefined);
    if (error && !error.destroyed) error.end(message);
    if (stream !== error) stream.reset();
  };

  session.on('stream', (s: SpdyStream) => {
    s.on('error', () => undefined);
    const type = s.header('streamtype');
    const port = parseForwardPort(s.header('port'));
    if ((type !== 'error' && type !== 'data') || port === undefined) return s.reset();
    void s.reply().catch(() => undefined);
    // Old clients send no request id: the error stream's own id names the pair, and the data
    // stream (opened right after it) is two ids on.
    const id = s.header('requestid') ?? String(type === 'error' ? s.id : s.id - 2);
    let p = pairs.get(id);
    if (!p) {
      if (pairs.size >= maxPairs)
        return fail(undefined, s, `too many port-forward connections at once (${maxPairs})`);
      const timer = setTimeout(() => {
        const q = pairs.get(id);
        drop(id);
        if (q)
          for (const x of [q.data, q.error]) if (x) fail(q, x, 'timed out waiting for streams');
      }, creationMs);
      p = { port, timer };
      pairs.set(id, p);
    }
    if (p[type])
      return fail(
        p,
        s,
        `error processing stream for request ${id}: ${type} stream already assigned`,
      );
    p[type] = s;
    if (!p.error || !p.data) return;
    clearTimeout(p.timer);
    const { data, error } = p;
    // The data stream's port is the one forwarded, as on the kubelet.
    const to = parseForwardPort(data.header('port')) ?? p.port;
    void forwardOne(provider, target, to, data, error, abort.signal).finally(() => drop(id));
  });
  await new Promise<void>((resolve) =>
    session.once('close', (err) => {
      if (err)
        log.info(
          { err: errorMessage(err) },
          'port-forward: SPDY session ended by a protocol error',
        );
      abort.abort();
      for (const id of [...pairs.keys()]) drop(id);
      resolve();
    }),
  );
}
