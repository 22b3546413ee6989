// A port-forward connection into a runc pod: tether/netns-connect (a small static helper next
// to the tether) joins the pause process's network namespace, connects to localhost:PORT there
// and relays the bytes over its stdin and stdout; tether/netns-connect.c says why a process
// per connection. The namespace file is opened here and the pause process checked to be the
// same one after opening it, so a pid reused since cannot point the connection elsewhere.
import { spawn } from 'node:child_process';
import { closeSync, openSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { Duplex } from 'node:stream';
import { conflict, unavailable } from '../errors.js';
import { checkForwardPort } from '../core/forward-port.js';
import { isAlive, type ProcessIdentity } from '../core/proc.js';

/** Where the helper is: beside the tether (tether/build.sh builds both). */
export const netnsConnectPath = (tether: string): string => join(dirname(tether), 'netns-connect');

export { checkForwardPort } from '../core/forward-port.js';

/**
 * Connects to `port` on the pod's loopback: resolves with the connection once it is made;
 * rejects (Unavailable) with the reason when nothing listens there.
 */
export async function connectInNetns(
  helper: string,
  pause: ProcessIdentity | undefined,
  port: number,
): Promise<Duplex> {
  checkForwardPort(port);
  if (!pause) throw conflict('the pod has no running sandbox to forward a port into');
  let nsFd: number;
  try {
    nsFd = openSync(`/proc/${pause.pid}/ns/net`, constants.O_RDONLY /* libuv adds O_CLOEXEC */);
  } catch {
    throw conflict('the pod has no running sandbox to forward a port into');
  }
  try {
    if (!isAlive(pause)) throw conflict('the pod has no running sandbox to forward a port into');
    const child = spawn(helper, [String(port)], { stdio: ['pipe', 'pipe', 'pipe', nsFd] });
    closeSync(nsFd);
    nsFd = -1;
    const stdin = child.stdin!;
    const stdout = child.stdout!;
    const stderr = child.stderr!;
    // The helper closes stderr once connected; a failure leaves its reason there and exits 1.
    let why = '';
    stderr.setEncoding('utf8').on('data', (t: string) => (why = (why + t).slice(0, 1024)));
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const connected = new Promise<void>((resolve) => stderr.once('close', resolve));
    const failed = await Promise.race([connected.then(() => undefined), spawnError]);
    if (failed) throw unavailable(`cannot start ${helper}: ${failed.message}`);
    if (why) {
      child.kill('SIGKILL');
      throw unavailable(why.trim());
    }
    const conn = Duplex.from({ readable: stdout, writable: stdin });
    // Duplex.from reports its own destroy() as an AbortError: never an unhandled 'error'.
    conn.on('error', () => undefined);
    // Cut short (the client went away): the helper goes too. A connection that ended both
    // ways lets the helper finish writing what it holds and exit alone.
    conn.once('close', () => {
      if (!conn.readableEnded || !conn.writableFinished) child.kill('SIGKILL');
    });
    return conn;
  } finally {
    if (nsFd >= 0) closeSync(nsFd);
  }
}
