// A VCH with its API on one listener, as `vic-kubelet node`, `vic-kubelet run` (and any other
// command that runs a VCH in its own process) open it: the persona (Docker Engine API) with the
// portlayer mounted under /portlayer, on a unix socket in the state directory. One listener
// means one address for a VCH, embedded or remote: `unix:///DIR/docker.sock` or
// `http://127.0.0.1:PORT`, the portlayer at the same address plus /portlayer — what
// `vic-kubelet node --vch URL` takes.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createRuncRuntime } from '../runtime/runc/index.js';
import { invalidInput } from './errors.js';
import { listenUnix } from './persona/listen.js';
import { closePersonaServer, createPersonaServer } from './persona/server.js';
import { portlayerHandler } from './portlayer/server.js';
import type { Logger } from 'pino';
import { Vch, type VchLogger } from './vch.js';

/** Where the portlayer is on a VCH's listener. */
export const PORTLAYER_PATH = '/portlayer';

/** The socket of an embedded VCH in its state directory. */
export const SOCKET_NAME = 'docker.sock';

/** The longest unix socket path Linux takes (sun_path, less its NUL). */
const MAX_SOCKET_PATH = 107;

export interface VchServerOptions {
  logger?: VchLogger;
  insecureRegistries?: readonly string[];
  /** Where uploaded image archives are spooled. */
  tmpDir: string;
  /** The pods the VCH takes, as /vch/info reports it. */
  maxPods?: number;
}

/** The persona, with the portlayer's routes under /portlayer, on one HTTP server. */
export function createVchServer(vch: Vch, o: VchServerOptions): Server {
  const server = createPersonaServer(vch, o);
  const portlayer = portlayerHandler(vch, {
    basePath: PORTLAYER_PATH,
    ...(o.logger && { logger: o.logger }),
    ...(o.maxPods !== undefined && { maxPods: o.maxPods }),
  });
  // The persona's request handler is the server's one listener; requests under /portlayer go
  // to the portlayer instead (upgrades, docker attach, stay with the persona).
  const persona = server.listeners('request') as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url === PORTLAYER_PATH || /^\/portlayer[/?]/.test(url)) portlayer(req, res);
    else for (const l of persona) l.call(server, req, res);
  });
  return server;
}

export interface EmbeddedVchOptions {
  stateDir: string;
  insecureRegistries?: readonly string[];
  logger?: Logger;
  /** The runc binary (default: runc on PATH). */
  runc?: string;
  /** The containers' init (default: the project's build). */
  tether?: string;
  maxPods?: number;
}

export interface EmbeddedVch {
  vch: Vch;
  socketPath: string;
  /** The persona's address; the portlayer is at `${url}#/portlayer`. */
  url: string;
  portlayerUrl: string;
  /** Stops serving and closes the VCH; containers keep running. */
  close(): Promise<void>;
}

/** Opens the VCH at `stateDir` (runc runtime) and serves it on `stateDir/docker.sock`. */
export async function openEmbeddedVch(o: EmbeddedVchOptions): Promise<EmbeddedVch> {
  const stateDir = resolve(o.stateDir);
  const socketPath = join(stateDir, SOCKET_NAME);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH)
    throw invalidInput(
      `--state-dir ${stateDir}: too long for its socket ${SOCKET_NAME} (at most ${MAX_SOCKET_PATH - SOCKET_NAME.length - 1} bytes)`,
    );
  const vch = await Vch.open({
    stateDir,
    insecureRegistries: o.insecureRegistries ?? [],
    ...(o.logger && { logger: o.logger }),
    runtime: (dir) =>
      createRuncRuntime({
        stateDir: join(dir, 'runc'),
        ...(o.logger && { logger: o.logger }),
        ...(o.runc && { runcPath: o.runc }),
        ...(o.tether && { tetherPath: o.tether }),
      }),
  });
  const server = createVchServer(vch, {
    tmpDir: join(stateDir, 'tmp'),
    ...(o.logger && { logger: o.logger }),
    ...(o.insecureRegistries && { insecureRegistries: o.insecureRegistries }),
    ...(o.maxPods !== undefined && { maxPods: o.maxPods }),
  });
  try {
    // Archives being uploaded when the last VCH stopped are of no use now.
    await rm(join(stateDir, 'tmp'), { recursive: true, force: true });
    await listenUnix(server, socketPath);
  } catch (e) {
    await vch.close();
    throw e;
  }
  const url = `unix://${socketPath}`;
  return {
    vch,
    socketPath,
    url,
    portlayerUrl: `${url}#${PORTLAYER_PATH}`,
    close: async () => {
      await closePersonaServer(server);
      await vch.close();
    },
  };
}

/**
 * The persona and portlayer endpoints of a VCH's address: `unix:///path.sock` or
 * `http://HOST:PORT` (a path after either is not allowed: the portlayer's place is fixed).
 */
export function vchEndpoints(url: string): { persona: string; portlayer: string } {
  if (url.startsWith('unix://')) {
    const path = url.slice('unix://'.length);
    if (!path.startsWith('/') || path.includes('#'))
      throw invalidInput(`--vch ${JSON.stringify(url)}: want unix:///absolute/path.sock`);
    return { persona: url, portlayer: `${url}#${PORTLAYER_PATH}` };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalidInput(`--vch ${JSON.stringify(url)}: want unix:///PATH or http://HOST:PORT`);
  }
  if (u.protocol !== 'http:' || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash)
    throw invalidInput(`--vch ${JSON.stringify(url)}: want unix:///PATH or http://HOST:PORT`);
  const base = `http://${u.host}`;
  return { persona: base, portlayer: `${base}${PORTLAYER_PATH}` };
}
