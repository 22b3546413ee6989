// Execs without a terminal (probes, hooks, kubectl and docker exec) run by the container's
// tether, which is already inside the container (tether/exec-server.h), rather than by a
// `runc exec` process each: no fork of the VCH, no Go runtime starting, about a millisecond
// a round trip. The tether speaks the pod VM agent's exec messages (tether/protocol.h), so one
// client (vm/exec-request.ts) serves both backends.
//
// The VCH's command runner binds the listening socket, in the container's directory (which the
// container cannot reach), and hands its fd to the tether through runc (spawn/listening-socket):
// nothing inside the container can plant or replace what the VCH connects to. The socket
// outlives a VCH restart (the tether holds it).
// A container started before this existed has no socket: its execs go through runc exec.
import { closeSync, constants, openSync } from 'node:fs';
import { connect } from 'node:net';
import type { ExecIo, ExecProcess } from '../core/exec.js';
import { ControlChannel } from '../vm/control.js';
import { requestExec } from '../vm/exec-request.js';

/** The socket's name in the container's directory. */
export const EXEC_SOCKET = 'exec.sock';

/**
 * A unix socket's path is limited to 107 bytes; a state directory's container directories
 * may be longer. The directory's fd in /proc/self/fd makes the path short.
 */
async function inDir<T>(dir: string, fn: (short: string) => Promise<T>): Promise<T> {
  // Sync: an open and a close of a directory take microseconds, a FileHandle's far more (this
  // is on every probe's path).
  const d = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return await fn(`/proc/self/fd/${d}`);
  } finally {
    closeSync(d);
  }
}

/**
 * Runs the exec through the container's tether: its exit code, or undefined when the container
 * has no exec socket (started before the tether took execs), so runc exec must do it.
 */
export async function tetherExec(
  dir: string,
  containerId: string,
  proc: ExecProcess,
  io: ExecIo,
): Promise<number | undefined> {
  const channel = await inDir(
    dir,
    (short) =>
      new Promise<ControlChannel | undefined>((resolve, reject) => {
        const s = connect(`${short}/${EXEC_SOCKET}`);
        s.once('connect', () => resolve(ControlChannel.over(s)));
        s.once('error', (e: NodeJS.ErrnoException) =>
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? resolve(undefined) : reject(e),
        );
      }),
  );
  if (!channel) return undefined;
  try {
    return await requestExec(channel, '', proc, io, {
      name: `exec in ${containerId}`,
      is: 'its tether',
    });
  } finally {
    channel.close();
  }
}
