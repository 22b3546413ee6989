// POST /containers/{id}/attach on a hijacked connection (`Upgrade: tcp`), as `docker run`
// without -d uses it: the CLI attaches before it starts the container, then reads the
// container's output, stdcopy-framed, until the container exits. Output comes from the
// container's log (the tether writes nothing anywhere else), followed from the moment of the
// attach. Standard input is not supported: whatever the client sends is read and dropped.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
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
    if (queryBool(query, 'stdin') && !queryBool(query, 'stdout') && !queryBool(query, 'stderr'))
      throw invalidInput('attaching to stdin is not supported yet');
    const stdout = queryBool(query, 'stdout');
    const stderr = queryBool(query, 'stderr');
    const ac = new AbortController();
    socket.once('close', () => ac.abort(new Error('client went away')));
    const output = await vch.attach(decodePathPart(m[1]!, path), {
      stream: stdout && stderr ? 'all' : stdout ? 'stdout' : stderr ? 'stderr' : 'all',
      signal: ac.signal,
    });
    const multiplexed = compareVersions(apiVersion, '1.42') >= 0;
    socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.${multiplexed ? 'multiplexed' : 'raw'}-stream\r\n` +
        `Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${MAX_API_VERSION}\r\n\r\n`,
    );
    upgraded = true;
    socket.resume(); // stdin is not wired: drop what the client sends
    try {
      for await (const chunk of output as AsyncIterable<LogChunk>) {
        if (!(await writeFrame(socket, chunk))) break;
      }
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
