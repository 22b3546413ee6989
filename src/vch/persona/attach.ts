// POST /containers/{id}/attach on a hijacked connection (`Upgrade: tcp`), as `docker run`
// without -d uses it: the CLI attaches before it starts the container, then reads the
// container's output, stdcopy-framed (raw with a terminal), until the container exits. Output
// comes from the container's log (the tether writes nothing anywhere else), followed from the
// moment of the attach. With stdin (docker attach, docker run -i/-it, docker start -ai) what
// the client sends goes to the container's own stdin through an attach session to its tether;
// to a container created without stdin it is read and dropped, as Docker does.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AttachSession } from '../../runtime/runtime.js';
import type { LogChunk } from '../../iolog/index.js';
import { invalidInput } from '../errors.js';
import type { Vch, VchLogger } from '../vch.js';
import { execStartId, serveExecStart } from './exec.js';
import { oneLine, queryBool, statusOf, writeFrame } from './http.js';
import { compareVersions, decodePathPart, MAX_API_VERSION, type Router } from './router.js';

const ATTACH = /^\/containers\/([^/]+)\/attach$/;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An HTTP error answered on the raw socket of an upgrade request. */
function rawError(socket: Duplex, err: unknown): void {
  const status = statusOf(err);
  const body = JSON.stringify({
    message: status === 500 ? `internal error: ${oneLine(err)}` : oneLine(err),
  });
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nApi-Version: ${MAX_API_VERSION}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Writes raw bytes: false once the client is gone. */
function writeRaw(out: Duplex, data: Buffer): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return Promise.resolve(false);
  if (out.write(data)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    out.once('drain', onDrain);
    out.once('close', onClose);
  });
}

/**
 * Feeds what the client sends to the container's stdin through an attach session, once the
 * container runs (docker run attaches before it starts; until then the client's bytes wait in
 * the socket). Resolves when the client's input is over (its half-close) or it is gone.
 */
async function feedStdin(
  vch: Vch,
  id: string,
  socket: Duplex,
  head: Buffer,
  signal: AbortSignal,
  log?: VchLogger,
): Promise<void> {
  socket.pause();
  let session: AttachSession;
  try {
    session = await vch.attachSession(id, { stdin: true, signal });
  } catch (e) {
    // Exited before it ran, or the client left: input is moot. Anything else is worth a line.
    if (!signal.aborted && statusOf(e) !== 409)
      log?.warn({ container: id, err: oneLine(e) }, 'attach: stdin not connected');
    socket.resume();
    return;
  }
  const stdin = session.stdin!;
  signal.addEventListener('abort', () => session.close(), { once: true });
  if (head.length > 0) stdin.write(head);
  // Not pipeline(): the session ending (the container's process is over) must not destroy the
  // client's connection, which still carries the last of the output.
  await new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve); // gone: the session's end counts as its input's (stdinOnce)
    stdin.once('close', resolve);
    socket.pipe(stdin);
  });
  // The input's end is sent before the session closes (the same to the tether, but in order).
  if (stdin.writableEnded && !stdin.writableFinished && !stdin.destroyed)
    await new Promise((resolve) => {
      stdin.once('finish', resolve);
      stdin.once('close', resolve);
    });
  socket.unpipe(stdin);
  socket.resume();
  session.close();
}

/** Handles an upgrade request; anything but an attach is refused. */
export async function handleUpgrade(
  router: Router,
  vch: Vch,
  req: IncomingMessage,
  socket: Duplex,
  log?: VchLogger,
  head: Buffer = Buffer.alloc(0),
): Promise<void> {
  socket.on('error', () => {});
  let upgraded = false;
  try {
    const { path, query, apiVersion } = router.parse(req.url ?? '/');
    const execId = execStartId(path);
    if (execId !== undefined && req.method === 'POST')
      return await serveExecStart(vch, execId, req, socket, head);
    const m = ATTACH.exec(path);
    if (!m || req.method !== 'POST') throw invalidInput(`cannot upgrade ${req.method} ${path}`);
    const ref = decodePathPart(m[1]!, path);
    const c = await vch.inspectContainer(ref);
    const tty = c.config.tty === true;
    // As Docker: stdin is attached only to a container created with it (OpenStdin); else what
    // the client sends is read and dropped.
    const withStdin = queryBool(query, 'stdin') && c.config.stdin === true;
    const stdout = queryBool(query, 'stdout');
    const stderr = queryBool(query, 'stderr');
    const ac = new AbortController();
    socket.once('close', () => ac.abort(new Error('client went away')));
    // The output ends with the container's run, the client, or (below) the client's input.
    const detach = new AbortController();
    const output = await vch.attach(c.id, {
      stream: stdout && stderr ? 'all' : stdout ? 'stdout' : stderr ? 'stderr' : 'all',
      signal: AbortSignal.any([ac.signal, detach.signal]),
    });
    const multiplexed = !tty && compareVersions(apiVersion, '1.42') >= 0;
    socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.${multiplexed ? 'multiplexed' : 'raw'}-stream\r\n` +
        `Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${MAX_API_VERSION}\r\n\r\n`,
    );
    upgraded = true;
    if (withStdin) {
      // The input ends the session's output too, unless the container's stdin closes with it
      // and its output runs on to the end (StdinOnce without a terminal): Docker's rule.
      const endsOutput = !(c.config.stdinOnce === true && !tty);
      void feedStdin(vch, c.id, socket, head, ac.signal, log).then(() => {
        if (endsOutput) detach.abort(new Error('the input is over'));
      });
    } else {
      socket.resume(); // nothing to feed: drop what the client sends
    }
    try {
      for await (const chunk of output as AsyncIterable<LogChunk>) {
        // With a terminal the stream is raw, as Docker sends it: there is only its output.
        const ok = tty ? await writeRaw(socket, chunk.data) : await writeFrame(socket, chunk);
        if (!ok) break;
      }
    } catch (e) {
      if (!detach.signal.aborted) throw e;
    } finally {
      output.destroy();
    }
    socket.end();
  } catch (e) {
    if (statusOf(e) >= 500) log?.error({ url: req.url, err: oneLine(e) }, 'attach failed');
    // After the 101 the connection is a raw stream: an error can only end it.
    if (upgraded) socket.destroy();
    else if (!socket.destroyed) rawError(socket, e);
  }
}
