// Where the persona listens: a unix socket (a stale socket file left by a killed VCH is
// removed; a live one is refused) and optionally a TCP address, loopback only unless allowed.
import type { Server } from 'node:http';
import { connect, isIP } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { chmod, lstat, mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { conflict, invalidInput } from '../errors.js';

/** `unix:///path` or `/path` → the socket path; InvalidInput for anything else. */
export function unixSocketPath(dockerHost: string): string {
  const path = dockerHost.startsWith('unix://') ? dockerHost.slice('unix://'.length) : dockerHost;
  if (!path.startsWith('/'))
    throw invalidInput(
      `invalid --docker-host ${JSON.stringify(dockerHost)}: want unix:///absolute/path`,
    );
  return path;
}

/** `HOST:PORT` (`[::1]:PORT` for IPv6) → host and port; InvalidInput otherwise. */
export function parseTcpAddress(
  text: string,
  allowNonLoopback: boolean,
): { host: string; port: number } {
  const m = /^(?:tcp:\/\/)?(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !Number.isInteger(port) || port < 1 || port > 65535)
    throw invalidInput(
      `invalid TCP address ${JSON.stringify(text)}: want HOST:PORT, like 127.0.0.1:2375`,
    );
  const loopback =
    host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback && !allowNonLoopback)
    throw invalidInput(
      `refusing to serve the Docker API without TLS on ${host}: only loopback addresses unless --docker-tcp-allow-remote`,
    );
  return { host, port };
}

async function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function listenUnix(server: Server, path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw invalidInput(`${path} exists and is not a socket; not replacing it`);
    if (await socketAnswers(path)) throw conflict(`another server is listening on ${path}`);
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // Bound inside a fresh 0700 directory, given its mode, then moved into place: the socket is
  // never reachable with the mode the umask gave it (a chmod after listen leaves a window).
  const priv = await mkdtemp(join(dirname(path), '.vch-socket-'));
  try {
    const tmp = join(priv, 's');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(tmp, 0o660);
    await rename(tmp, path);
    // libuv removes the path it bound on close, which is gone: remove ours, if still ours.
    const { ino } = await lstat(path);
    server.once('close', () => {
      try {
        if (lstatSync(path).ino === ino) unlinkSync(path);
      } catch {
        // already gone
      }
    });
  } finally {
    await rm(priv, { recursive: true, force: true });
  }
}

export async function listenTcp(server: Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
