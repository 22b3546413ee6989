// Exec over SPDY/3.1, as the kube-apiserver reaches the kubelet: the HTTP upgrade with the
// stream protocol negotiated (X-Stream-Protocol-Version, the chosen one echoed in the 101),
// then the client opens one SPDY stream per `streamtype` (error, stdin, stdout, stderr,
// resize); each is answered at once, and the command runs once all it asked for are there.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../logging/logger.js';
import { errorMessage } from '../errors.js';
import type { Provider } from '../provider.js';
import type { ExecRequest } from './exec-request.js';
import { runRemoteCommand, type RemoteCommandStreams } from './remote-command.js';
import { SpdySession } from './spdy/session.js';
import type { SpdyStream } from './spdy/stream.js';
import { rejectUpgrade } from './upgrade.js';

/** The stream protocols served over SPDY, best first, with their versions. */
export const SPDY_STREAM_PROTOCOLS: Record<string, number> = {
  'v4.channel.k8s.io': 4,
  'v3.channel.k8s.io': 3,
  'v2.channel.k8s.io': 2,
  'channel.k8s.io': 1,
};

export interface SpdyExecOptions {
  /** How long the client has to open the streams it asked for. */
  streamCreationTimeoutMs?: number;
  /** A connection with no traffic this long is closed. */
  idleTimeoutMs?: number;
}

/** The client's protocols (several header lines, or one comma-separated) the server's best. */
export function negotiateSpdyProtocol(req: IncomingMessage): string | undefined {
  const offered = (req.headersDistinct['x-stream-protocol-version'] ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim());
  return Object.keys(SPDY_STREAM_PROTOCOLS).find((p) => offered.includes(p));
}

export function isSpdyUpgrade(req: IncomingMessage): boolean {
  return /^spdy\/3\.1$/i.test((req.headers.upgrade ?? '').trim());
}

export async function serveSpdyExec(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  provider: Provider,
  exec: ExecRequest,
  log: Logger,
  o: SpdyExecOptions = {},
): Promise<void> {
  if ((req.headersDistinct['x-stream-protocol-version'] ?? []).length === 0)
    return rejectUpgrade(socket, 400, 'unable to upgrade: X-Stream-Protocol-Version is required');
  const protocol = negotiateSpdyProtocol(req);
  if (!protocol)
    return rejectUpgrade(
      socket,
      403,
      'unable to upgrade: no common stream protocol version',
      Object.keys(SPDY_STREAM_PROTOCOLS).map((p) => ['X-Accepted-Stream-Protocol-Versions', p]),
    );
  const version = SPDY_STREAM_PROTOCOLS[protocol]!;
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
      `X-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
  );
  if (head.length > 0) socket.unshift(head);
  const session = new SpdySession(socket, { server: true });
  const abort = new AbortController();
  session.on('close', (err) => {
    if (err) log.info({ err: errorMessage(err) }, 'exec: SPDY session ended by a protocol error');
    abort.abort();
  });
  (socket as Socket).setTimeout(o.idleTimeoutMs ?? 4 * 3600_000, () => void session.close());

  const streams = await collectStreams(session, exec, version, o.streamCreationTimeoutMs ?? 30_000);
  if (!streams) {
    log.info({ pod: `${exec.namespace}/${exec.pod}` }, 'exec: the client did not open its streams');
    return session.close();
  }
  await runRemoteCommand(provider, exec, streams, abort.signal);
  await session.close();
}

/** Waits for the streams the request asked for; undefined at the timeout or on close. */
function collectStreams(
  session: SpdySession,
  exec: ExecRequest,
  version: number,
  timeoutMs: number,
): Promise<RemoteCommandStreams | undefined> {
  const want = new Set(['error']);
  if (exec.stdin) want.add('stdin');
  if (exec.stdout) want.add('stdout');
  if (exec.stderr) want.add('stderr');
  if (exec.tty && version >= 3) want.add('resize');
  const got = new Map<string, SpdyStream>();
  return new Promise((resolve) => {
    const done = (r: RemoteCommandStreams | undefined) => {
      clearTimeout(timer);
      session.off('stream', onStream);
      session.off('close', onClose);
      resolve(r);
    };
    const onClose = () => done(undefined);
    const onStream = (s: SpdyStream) => {
      s.on('error', () => undefined);
      const type = s.header('streamtype') ?? '';
      if (!want.has(type) || got.has(type)) return s.reset();
      void s.reply().catch(() => undefined);
      got.set(type, s);
      if (got.size < want.size) return;
      done({
        version,
        error: got.get('error')!,
        stdin: got.get('stdin'),
        stdout: got.get('stdout'),
        stderr: got.get('stderr'),
        resize: got.get('resize'),
      });
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    session.on('stream', onStream);
    session.on('close', onClose);
  });
}
