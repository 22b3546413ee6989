// Exec over WebSocket, for clients that reach the kubelet API straight (the apiserver itself
// speaks SPDY/3.1 to a kubelet): Kubernetes' channel protocols. Each message is one channel's:
// its first byte names the channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize), the rest
// is the data; the base64 protocols send text, the channel as a digit and the data in base64.
// v5 adds channel 255 (close): its one byte names a channel the client is done writing (stdin).
// The channels become the same RemoteCommandStreams SPDY's streams do (remote-command.ts).
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough, type Duplex, Writable } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../../logging/logger.js';
import type { Provider } from '../provider.js';
import type { ExecRequest } from './exec-request.js';
import { runRemoteCommand, type RemoteCommandStreams } from './remote-command.js';
import { rejectUpgrade } from './upgrade.js';

/** The channel protocols served, best first. */
export const WS_STREAM_PROTOCOLS: Record<string, { version: number; base64: boolean }> = {
  'v5.channel.k8s.io': { version: 5, base64: false },
  'v4.channel.k8s.io': { version: 4, base64: false },
  'v4.base64.channel.k8s.io': { version: 4, base64: true },
  'channel.k8s.io': { version: 1, base64: false },
  'base64.channel.k8s.io': { version: 1, base64: true },
};

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

/** The largest message a client may send (kubectl sends stdin in 32 KiB pieces). */
export const WS_MAX_MESSAGE = 1 << 20;

export interface WsExecOptions {
  /** A connection with no traffic this long is closed. */
  idleTimeoutMs?: number;
}

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return /^websocket$/i.test((req.headers.upgrade ?? '').trim());
}

/** The client's protocols' best one we serve; '' when it offered none (v1, as the kubelet). */
export function negotiateWsProtocol(req: IncomingMessage): string | undefined {
  const offered = (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (offered.length === 0) return '';
  return Object.keys(WS_STREAM_PROTOCOLS).find((p) => offered.includes(p));
}

export async function serveWebSocketExec(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  provider: Provider,
  exec: ExecRequest,
  log: Logger,
  o: WsExecOptions = {},
): Promise<void> {
  const protocol = negotiateWsProtocol(req);
  if (protocol === undefined)
    return rejectUpgrade(
      socket,
      400,
      `unable to upgrade: none of the offered protocols is served (want one of ${Object.keys(WS_STREAM_PROTOCOLS).join(', ')})`,
    );
  const { version, base64 } = WS_STREAM_PROTOCOLS[protocol || 'channel.k8s.io']!;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: WS_MAX_MESSAGE,
    perMessageDeflate: false,
    handleProtocols: () => protocol || false,
  });
  const ws = await new Promise<WebSocket>((resolve) =>
    wss.handleUpgrade(req, socket, head, resolve),
  );
  const abort = new AbortController();
  const stdin = exec.stdin ? new PassThrough() : undefined;
  const resize = exec.tty ? new PassThrough() : undefined;
  (socket as Socket).setTimeout(o.idleTimeoutMs ?? 4 * 3600_000, () => ws.terminate());
  ws.on('close', () => {
    abort.abort();
    stdin?.end();
    resize?.end();
  });
  ws.on('error', (err) => log.info({ err: err.message }, 'exec: WebSocket ended by an error'));
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const frame = decode(data as Buffer, isBinary, base64);
    if (!frame) return ws.close(1003, 'malformed channel message');
    const [channel, payload] = frame;
    if (channel === STDIN && stdin && !stdin.writableEnded) {
      // Backpressure: stop reading the socket until the exec has taken its input.
      if (!stdin.write(payload)) {
        ws.pause();
        stdin.once('drain', () => ws.resume());
      }
    } else if (channel === RESIZE && resize && !resize.writableEnded) resize.write(payload);
    else if (channel === CLOSE && version >= 5 && payload[0] === STDIN) stdin?.end();
  });

  const out = (channel: number) => channelWriter(ws, channel, base64);
  const streams: RemoteCommandStreams = {
    version,
    error: out(ERROR),
    ...(stdin && { stdin }),
    ...(exec.stdout && { stdout: out(STDOUT) }),
    ...(exec.stderr && { stderr: out(STDERR) }),
    ...(resize && { resize }),
  };
  // The kubelet opens each channel it writes with an empty message; clients may wait for it.
  for (const c of [STDOUT, exec.stderr && STDERR, ERROR])
    if (c !== false && (c !== STDOUT || exec.stdout)) ws.send(encode(c, Buffer.alloc(0), base64));
  await runRemoteCommand(provider, exec, streams, abort.signal);
  ws.close(1000);
}

/** A channel message: [channel, data]; undefined when it is not one. */
function decode(data: Buffer, isBinary: boolean, base64: boolean): [number, Buffer] | undefined {
  if (data.length === 0) return undefined;
  if (!base64) return [data[0]!, data.subarray(1)];
  if (isBinary) return undefined;
  const text = data.toString('latin1');
  const channel = text.charCodeAt(0) - 0x30;
  if (channel < 0 || channel > 9) return undefined;
  return [channel, Buffer.from(text.slice(1), 'base64')];
}

function encode(channel: number, data: Buffer, base64: boolean): Buffer | string {
  if (base64) return String.fromCharCode(0x30 + channel) + data.toString('base64');
  return Buffer.concat([Buffer.of(channel), data]);
}

/** A channel as a Writable: each write one message, done once the socket has taken it. */
function channelWriter(ws: WebSocket, channel: number, base64: boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      if (ws.readyState !== ws.OPEN) return done(new Error('WebSocket closed'));
      ws.send(encode(channel, chunk, base64), { binary: !base64 }, (err) => done(err ?? null));
    },
  });
}
