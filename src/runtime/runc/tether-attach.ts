// Attach sessions to a runc container's own stdin and terminal, which its tether holds
// (tether/attach-server.h): one connection to the attach socket in the container's directory
// (bound by the VCH's runner, out of the container's reach) per session, carrying the attach
// lines of tether/protocol.h. Nothing comes back on it: the output is the container's log.
import { closeSync, constants, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { conflict } from '../errors.js';
import { EXEC_CHUNK } from '../core/protocol.js';
import type { AttachSession, TerminalSize } from '../runtime.js';

/** The socket's name in the container's directory. */
export const ATTACH_SOCKET = 'attach.sock';

/** Connects through the directory's fd: a socket path may have at most 107 bytes. */
function connectIn(dir: string): Promise<Socket> {
  const d = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  return new Promise<Socket>((resolve, reject) => {
    const s = connect(`/proc/self/fd/${d}/${ATTACH_SOCKET}`);
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? conflict(
              'the container takes no attach sessions (it was started without stdin or a terminal, or is over)',
            )
          : e,
      ),
    );
  }).finally(() => closeSync(d));
}

/** Opens a session; `stdin`: it feeds the process's input. */
export async function tetherAttach(dir: string, stdin: boolean): Promise<AttachSession> {
  const sock = await connectIn(dir);
  sock.on('error', () => undefined); // the tether goes with the process: the session is over
  sock.write(`attach - ${stdin ? 1 : 0}\n`);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    sock.end();
  };
  sock.once('close', () => {
    closed = true;
    input?.destroy();
  });
  const input = stdin
    ? new Writable({
        write(chunk: Buffer, _enc, done) {
          if (closed) return done();
          // Lines of at most EXEC_CHUNK bytes; the socket's backpressure holds the writer up.
          let ok = true;
          for (let i = 0; i < chunk.length; i += EXEC_CHUNK)
            ok = sock.write(`attachin - ${chunk.subarray(i, i + EXEC_CHUNK).toString('base64')}\n`);
          if (ok) done();
          else sock.once('drain', () => done());
        },
        final(done) {
          if (!closed) sock.write('attachclose -\n');
          done();
        },
      })
    : undefined;
  input?.on('error', () => undefined);
  return {
    ...(input && { stdin: input }),
    resize(size: TerminalSize) {
      if (closed) return;
      const w = Math.trunc(size.width);
      const h = Math.trunc(size.height);
      if (w >= 1 && h >= 1 && w <= 0xffff && h <= 0xffff) sock.write(`attachresize - ${w} ${h}\n`);
    },
    close,
  };
}
