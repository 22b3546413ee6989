// `vic-kubelet vch serve`: open the VCH at a state directory (embedded.ts), serve the persona
// (Docker Engine API, with the portlayer under /portlayer: vch-server.ts) on a unix socket and
// optionally on loopback TCP, until SIGTERM or SIGINT. Stopping closes the servers, the
// runtime's watchers and the database; containers keep running and the next start picks them
// up again.
import { parseLogRotation } from '../runtime/log-rotation.js';
import type { Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createLogger } from '../logging/logger.js';
import { parseRuntimeChoice } from './backends.js';
import { checkBridgeNetworkFlag, openHostVch, spoolDir } from './embedded.js';
import { parseMaxLayerExpansion } from '../image/layer-limits.js';
import { invalidInput } from './errors.js';
import {
  listenTcp,
  listenUnix,
  loadServerTls,
  parseTcpAddress,
  unixSocketPath,
} from './persona/listen.js';
import type { Vch } from './vch.js';
import { closeVchServer, createVchServer } from './vch-server.js';

export interface ServeOptions {
  stateDir: string;
  dockerHost: string;
  dockerTcp?: string;
  /** dockerd's TLS flags for --docker-tcp (persona/listen.ts loadServerTls). */
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  insecureRegistry: string[];
  runc?: string;
  tether?: string;
  /** runc, vm or auto: the default backend of pods (`vic-kubelet.io/runtime` overrides). */
  runtime: string;
  /** CIDR of the VCH's bridge, or "none" (embedded.ts). */
  bridgeNetwork?: string;
  /** A layer's largest expansion ratio (layer-limits.ts), as given. */
  maxLayerExpansion?: string;
  containerLogMaxSize?: string;
  containerLogMaxFiles?: string;
  logLevel: string;
}

const REGISTRY = /^(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

export async function serveVch(o: ServeOptions): Promise<void> {
  if (!['debug', 'info', 'warn', 'error'].includes(o.logLevel))
    throw invalidInput(
      `--log-level ${JSON.stringify(o.logLevel)}: want debug, info, warn or error`,
    );
  const choice = parseRuntimeChoice(o.runtime);
  checkBridgeNetworkFlag(o.bridgeNetwork);
  const maxLayerExpansion = parseMaxLayerExpansion(o.maxLayerExpansion);
  const logRotation = parseLogRotation({
    maxSize: o.containerLogMaxSize,
    maxFiles: o.containerLogMaxFiles,
  });
  const socketPath = unixSocketPath(o.dockerHost);
  const tls = await loadServerTls(o);
  const tcp = o.dockerTcp ? parseTcpAddress(o.dockerTcp, tls !== undefined) : undefined;
  for (const r of o.insecureRegistry)
    if (!REGISTRY.test(r))
      throw invalidInput(`--insecure-registry ${JSON.stringify(r)}: want HOST[:PORT]`);
  const stateDir = resolve(o.stateDir);
  try {
    await mkdir(stateDir, { recursive: true });
  } catch (e) {
    throw invalidInput(
      `--state-dir ${stateDir}: ${(e as NodeJS.ErrnoException).code ?? 'unusable'}`,
    );
  }

  const log = createLogger({ level: o.logLevel });
  const { vch, backends } = await openHostVch({
    stateDir,
    runtime: choice,
    logRotation,
    insecureRegistries: o.insecureRegistry,
    logger: log,
    ...(o.runc && { runc: o.runc }),
    ...(o.tether && { tether: o.tether }),
    ...(o.bridgeNetwork !== undefined && { bridgeNetwork: o.bridgeNetwork }),
    ...(maxLayerExpansion !== undefined && { maxLayerExpansion }),
  });
  // State changes as log lines, for the operator (docker events, in effect).
  vch.on('event', (e) =>
    log.info(
      { type: e.type, action: e.action, id: e.id, ...e.attributes },
      `${e.type} ${e.action}`,
    ),
  );
  // Signals first: a SIGTERM during start-up still ends us cleanly.
  const stopped = new Promise<NodeJS.Signals>((done) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, done);
  });
  const servers: Server[] = [];
  const persona = {
    logger: log,
    insecureRegistries: o.insecureRegistry,
    tmpDir: spoolDir(stateDir),
  };
  try {
    const unix = createVchServer(vch, persona);
    servers.push(unix);
    await listenUnix(unix, socketPath);
    if (tcp) {
      const t = createVchServer(vch, persona, tls);
      servers.push(t);
      await listenTcp(t, tcp.host, tcp.port);
    }
  } catch (e) {
    await closeAll(servers, vch);
    throw e;
  }
  log.info(
    {
      stateDir,
      runtime: backends.default,
      dockerHost: `unix://${socketPath}`,
      ...(tcp && { dockerTcp: `${tls ? 'https' : 'http'}://${tcp.host}:${tcp.port}` }),
    },
    'serving the Docker API',
  );
  const signal = await stopped;
  log.info({ signal }, 'stopping: containers keep running');
  await closeAll(servers, vch);
  log.info({}, 'stopped');
}

async function closeAll(servers: Server[], vch: Vch): Promise<void> {
  await Promise.all(servers.map(closeVchServer));
  await vch.close();
}
