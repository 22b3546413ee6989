// A VCH with its API on one listener, as `vic-kubelet node`, `vic-kubelet run` (and any other
// command that runs a VCH in its own process) open it: the persona (Docker Engine API) with the
// portlayer mounted under /portlayer, on a unix socket in the state directory. One listener
// means one address for a VCH, embedded or remote: `unix:///DIR/docker.sock` or
// `http://127.0.0.1:PORT`, the portlayer at the same address plus /portlayer — what
// `vic-kubelet node --vch URL` takes.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chooseBackends, type RuntimeChoice } from './backends.js';
import { PORTLAYER_PATH } from './address.js';
import { invalidInput } from './errors.js';
import { listenUnix } from './persona/listen.js';
import { closePersonaServer, createPersonaServer } from './persona/server.js';
import { portlayerHandler } from './portlayer/server.js';
import { pino, type Logger } from 'pino';
import { Vch, type VchLogger } from './vch.js';

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
    const path = url.split('?')[0];
    if (path === PORTLAYER_PATH || path.startsWith(`${PORTLAYER_PATH}/`)) portlayer(req, res);
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
  /** Default backend of pods (`vic-kubelet.io/runtime` overrides). Default auto, as `vch serve`. */
  runtime?: RuntimeChoice;
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

/** Opens the VCH at `stateDir` (both backends, `runtime` the default) and serves it on `stateDir/docker.sock`. */
export async function openEmbeddedVch(o: EmbeddedVchOptions): Promise<EmbeddedVch> {
  const stateDir = resolve(o.stateDir);
  const socketPath = join(stateDir, SOCKET_NAME);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH)
    throw invalidInput(
      `--state-dir ${stateDir}: too long for its socket ${SOCKET_NAME} (at most ${MAX_SOCKET_PATH - SOCKET_NAME.length - 1} bytes)`,
    );
  const backends = await chooseBackends({
    choice: o.runtime ?? 'auto',
    logger: o.logger ?? pino({ level: 'silent' }),
    ...(o.runc && { runc: o.runc }),
    ...(o.tether && { tether: o.tether }),
  });
  const vch = await Vch.open({
    stateDir,
    insecureRegistries: o.insecureRegistries ?? [],
    ...(o.logger && { logger: o.logger }),
    runtime: backends.runtime,
    vmBoots: () => backends.boots.snapshot(),
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
