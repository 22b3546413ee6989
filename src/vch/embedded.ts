// A VCH on this host, as `vic-kubelet vch serve`, `node` and `run` open it: both backends on
// offer (backends.ts), the database and the runtime opened (vch.ts), the archives of uploads
// the last VCH left behind cleared. `node` and `run` then serve it on a unix socket in the
// state directory (openEmbeddedVch), `vch serve` where it is told (serve.ts); both on one
// listener for the persona and the portlayer (vch-server.ts).
import { DEFAULT_LOG_ROTATION, type LogRotation } from '../runtime/log-rotation.js';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Logger, silentLogger } from '../logging/logger.js';
import { PORTLAYER_PATH } from './address.js';
import { type Backends, chooseBackends, type RuntimeChoice } from './backends.js';
import { invalidInput } from './errors.js';
import { BridgeNetwork } from './network/bridge-network.js';
import { parseBridgeCidr } from './network/cidr.js';
import { listenUnix } from './persona/listen.js';
import { Vch } from './vch.js';
import { closeVchServer, createVchServer } from './vch-server.js';

/** The socket of an embedded VCH in its state directory. */
export const SOCKET_NAME = 'docker.sock';

/** The longest unix socket path Linux takes (sun_path, less its NUL). */
const MAX_SOCKET_PATH = 107;

export interface HostVchOptions {
  stateDir: string;
  insecureRegistries?: readonly string[];
  logger?: Logger;
  /** The runc binary (default: runc on PATH). */
  runc?: string;
  /** The containers' init (default: the project's build). */
  tether?: string;
  /** Default backend of pods (`vic-kubelet.io/runtime` overrides). Default auto. */
  runtime?: RuntimeChoice;
  /** Rotation of containers' logs; default the kubelet's (10Mi, 5 files). */
  logRotation?: LogRotation;
  /**
   * `--bridge-network`: the range of the VCH's bridge (CIDR), "none" for pods with loopback
   * only; absent, the range chosen before, else the first default that overlaps no route.
   */
  bridgeNetwork?: string;
  /** `--max-layer-expansion` (layer-limits.ts); absent, the default ratio. */
  maxLayerExpansion?: number;
}

/** `--bridge-network`'s value checked (the overlap is checked when the VCH opens). */
export function checkBridgeNetworkFlag(value: string | undefined): void {
  if (value !== undefined && value !== 'none') parseBridgeCidr(value);
}

/** Where uploaded image archives are spooled. */
export function spoolDir(stateDir: string): string {
  return join(stateDir, 'tmp');
}

/** Opens the VCH at `stateDir` with both backends (`runtime` the default). */
export async function openHostVch(o: HostVchOptions): Promise<{ vch: Vch; backends: Backends }> {
  const stateDir = resolve(o.stateDir);
  checkBridgeNetworkFlag(o.bridgeNetwork);
  const logger = o.logger ?? silentLogger();
  const backends = await chooseBackends({
    choice: o.runtime ?? 'auto',
    logger,
    ...(o.runc && { runc: o.runc }),
    ...(o.tether && { tether: o.tether }),
    logRotation: o.logRotation ?? DEFAULT_LOG_ROTATION,
  });
  const vch = await Vch.open({
    stateDir,
    insecureRegistries: o.insecureRegistries ?? [],
    ...(o.maxLayerExpansion !== undefined && { maxLayerExpansion: o.maxLayerExpansion }),
    ...(o.logger && { logger: o.logger }),
    runtime: backends.runtime,
    ...(o.bridgeNetwork !== 'none' && {
      network: (dir: string) =>
        BridgeNetwork.open({
          stateDir: dir,
          logger,
          ...(o.bridgeNetwork !== undefined && { cidr: o.bridgeNetwork }),
        }),
    }),
    vmBoots: () => backends.boots.snapshot(),
  });
  backends.boots.onRecord((ms, accel) => vch.metrics.vmBooted(ms, accel));
  try {
    // Archives being uploaded when the last VCH stopped are of no use now.
    await rm(spoolDir(stateDir), { recursive: true, force: true });
  } catch (e) {
    await vch.close();
    throw e;
  }
  return { vch, backends };
}

export interface EmbeddedVchOptions extends HostVchOptions {
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
  const { vch } = await openHostVch(o);
  const server = createVchServer(vch, {
    tmpDir: spoolDir(stateDir),
    ...(o.logger && { logger: o.logger }),
    ...(o.insecureRegistries && { insecureRegistries: o.insecureRegistries }),
    ...(o.maxPods !== undefined && { maxPods: o.maxPods }),
  });
  try {
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
      await closeVchServer(server);
      await vch.close();
    },
  };
}
