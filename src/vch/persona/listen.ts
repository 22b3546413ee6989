// Where the persona listens: a unix socket (a stale socket file left by a killed VCH is
// removed; a live one is refused) and optionally a TCP address, loopback only unless allowed.
import type { Server } from 'node:http';
import { connect, isIP } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { chmod, lstat, mkdtemp, readFile, rename, rm, unlink } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { ServerTls } from '../listener.js';
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

/**
 * `HOST:PORT` (`[::1]:PORT` for IPv6) → host and port; InvalidInput otherwise. Off loopback only
 * with TLS and client certificates: anyone who reaches the Docker API owns the VCH.
 */
export function parseTcpAddress(text: string, withTls: boolean): { host: string; port: number } {
  const m = /^(?:tcp:\/\/)?(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !Number.isInteger(port) || port < 1 || port > 65535)
    throw invalidInput(
      `invalid TCP address ${JSON.stringify(text)}: want HOST:PORT, like 127.0.0.1:2375`,
    );
  const loopback =
    host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback && !withTls)
    throw invalidInput(
      `refusing to serve the Docker API without TLS on ${host}: plain TCP is for loopback addresses; elsewhere give --tlsverify --tlscacert --tlscert --tlskey`,
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

/** dockerd's TLS flags, as `vch serve` takes them. */
export interface TlsFlags {
  dockerTcp?: string;
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/**
 * The TCP listener's TLS from dockerd's flags: --tlsverify with all three files, or none of
 * them. TLS without client certificates (dockerd's --tls alone) is refused: it would encrypt
 * the way in for anyone.
 */
export async function loadServerTls(o: TlsFlags): Promise<ServerTls | undefined> {
  const files = { '--tlscacert': o.tlscacert, '--tlscert': o.tlscert, '--tlskey': o.tlskey };
  const given = Object.entries(files).filter(([, v]) => v !== undefined);
  if (o.tls && !o.tlsverify)
    throw invalidInput(
      '--tls without --tlsverify would take any client: give --tlsverify with --tlscacert, --tlscert and --tlskey',
    );
  if (!o.tlsverify) {
    if (given.length > 0)
      throw invalidInput(
        `${given.map(([k]) => k).join(', ')} without --tlsverify: give --tlsverify too`,
      );
    return undefined;
  }
  if (!o.dockerTcp)
    throw invalidInput('--tlsverify secures --docker-tcp: give --docker-tcp HOST:PORT');
  const missing = Object.entries(files).filter(([, v]) => v === undefined);
  if (missing.length > 0)
    throw invalidInput(`--tlsverify needs ${missing.map(([k]) => k).join(', ')}`);
  const read = async (flag: string, path: string) => {
    try {
      return await readFile(path);
    } catch (e) {
      throw invalidInput(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  };
  const tls: ServerTls = {
    ca: await read('--tlscacert', o.tlscacert!),
    cert: await read('--tlscert', o.tlscert!),
    key: await read('--tlskey', o.tlskey!),
  };
  try {
    createSecureContext(tls);
  } catch (e) {
    throw invalidInput(`--tlscert/--tlskey/--tlscacert: ${(e as Error).message.split('\n')[0]}`);
  }
  return tls;
}
