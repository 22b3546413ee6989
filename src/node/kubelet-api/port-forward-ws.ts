// Port-forward over WebSocket, as the kubelet serves it to clients that reach it directly
// (`v4.channel.k8s.io`, `v4.base64.channel.k8s.io`, or no subprotocol: binary channels). The
// ports are the `port` query parameters; port i gets channel 2i for data (both ways) and 2i+1
// for errors (to the client), and the first frame on each carries the port, 2 bytes little
// endian. A message is its channel's number (one byte; an ASCII digit with base64) then its
// bytes (base64 text with base64). One connection per port; closing the socket ends them all.
import type { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { HttpError } from '../../errdefs.js';
import type { Logger } from '../../logging/logger.js';
import type { Provider } from '../provider.js';
import { forwardOne, type PortForwardTarget, parseForwardPort } from './port-forward.js';

const PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];
/** Ports one connection may forward (each is two channels of one byte's numbering). */
export const MAX_WS_PORTS = 64;
/** Largest message taken from the client. */
const MAX_MESSAGE = 1 << 20;

/** The `port` query parameters (each may list several, comma separated), checked. */
export function wsForwardPorts(query: URLSearchParams): number[] {
  const texts = query.getAll('port').flatMap((v) => v.split(','));
  if (texts.length === 0) throw new HttpError(400, 'query parameter "port" is required');
  if (texts.length > MAX_WS_PORTS)
    throw new HttpError(400, `at most ${MAX_WS_PORTS} ports on one connection`);
  return texts.map((t) => {
    const port = parseForwardPort(t.trim());
    if (port === undefined)
      throw new HttpError(400, `port ${JSON.stringify(t)} must be 1 to 65535`);
    return port;
  });
}

export const isWebSocketUpgrade = (req: IncomingMessage): boolean =>
  /^websocket$/i.test((req.headers.upgrade ?? '').trim());

/** One channel of the socket as a Duplex: writes are frames on `ch`, reads what came on it. */
class Channel extends Duplex {
  constructor(
    private readonly ws: WebSocket,
    private readonly ch: number,
    private readonly base64: boolean,
  ) {
    super({ allowHalfOpen: true });
  }

  frame(data: Buffer): Buffer | string {
    return this.base64
      ? String.fromCharCode(48 + this.ch) + data.toString('base64')
      : Buffer.concat([Buffer.of(this.ch), data]);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) return cb(new Error('the WebSocket is closed'));
    this.ws.send(this.frame(chunk), { binary: !this.base64 }, (err) => cb(err ?? null));
  }

  override _read(): void {
    this.ws.resume();
  }
}

export function serveWebSocketPortForward(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  provider: Provider,
  target: PortForwardTarget,
  ports: number[],
  log: Logger,
): void {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE,
    handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  const offered = (req.headers['sec-websocket-protocol'] ?? '').trim();
  if (offered !== '' && !offered.split(',').some((p) => PROTOCOLS.includes(p.trim())))
    throw new HttpError(400, `no supported WebSocket subprotocol in ${JSON.stringify(offered)}`);
  wss.handleUpgrade(req, socket, head, (ws) => {
    const base64 = ws.protocol === 'v4.base64.channel.k8s.io';
    const abort = new AbortController();
    const channels = ports.map((_, i) => ({
      data: new Channel(ws, 2 * i, base64),
      error: new Channel(ws, 2 * i + 1, base64),
    }));
    ws.on('message', (msg: Buffer, isBinary: boolean) => {
      let ch: number;
      let data: Buffer;
      if (base64) {
        const text = isBinary ? msg.toString('latin1') : msg.toString('utf8');
        ch = text.charCodeAt(0) - 48;
        data = Buffer.from(text.slice(1), 'base64');
      } else {
        ch = msg[0] ?? -1;
        data = msg.subarray(1);
      }
      // Only data channels are the client's to write; anything else ends the connection.
      const pair = ch % 2 === 0 ? channels[ch / 2] : undefined;
      if (!pair) return ws.close(1003, `no channel ${ch} to write to`);
      if (data.length > 0 && !pair.data.push(data)) ws.pause();
    });
    ws.on('close', () => {
      abort.abort();
      for (const c of channels) {
        c.data.push(null);
        c.data.destroy();
        c.error.destroy();
      }
    });
    ws.on('error', (err) => log.info({ err: err.message }, 'port-forward: WebSocket failed'));
    const portBytes = (p: number) => Buffer.of(p & 0xff, p >> 8);
    void Promise.all(
      channels.map(async ({ data, error }, i) => {
        const port = ports[i]!;
        data.write(portBytes(port));
        error.write(portBytes(port));
        await forwardOne(provider, target, port, data, error, abort.signal);
      }),
    ).finally(() => ws.close(1000));
  });
}
