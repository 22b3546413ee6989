// A unix socket the runner binds and hands to a command as one of its fds, listening: the runc
// tether takes execs on one (tether/exec-server.h). The runner binds it, not the container, so
// nothing inside a container can plant or replace what the VCH later connects to.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, renameSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { basename, dirname } from 'node:path';

export interface ListeningSocket {
  /** The listening fd, for the command's stdio. */
  fd: number;
  /** The command has it: the socket takes its name, and the runner lets go of its copy. */
  keep(): Promise<void>;
  /** The command failed: the socket goes. */
  drop(): Promise<void>;
}

/**
 * Binds a listening socket for `path`. Under a temporary name first: libuv unlinks a unix
 * server's path when it closes it, and the runner closes its copy once the command holds one,
 * so the name it unlinks must no longer be the socket. Through the directory's fd in
 * /proc/self/fd, as a socket's path may have at most 107 bytes and a container's directory
 * under a state directory can be longer.
 */
export async function bindListening(path: string): Promise<ListeningSocket> {
  const dir = dirname(path);
  const tmp = `${basename(path)}.${randomBytes(6).toString('hex')}.tmp`;
  const d = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(`/proc/self/fd/${d}/${tmp}`, () => resolve());
    });
  } catch (e) {
    closeSync(d);
    throw e;
  }
  // Node has no public accessor for a server's fd (libuv's uv_fileno). The runner never
  // accepts on it: the server has no 'connection' listener.
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const close = async (s: Server) => {
    await new Promise<void>((r) => s.close(() => r()));
    closeSync(d);
  };
  return {
    fd,
    keep: async () => {
      renameSync(`${dir}/${tmp}`, path);
      await close(server);
    },
    drop: () => close(server),
  };
}
