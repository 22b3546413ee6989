// The portlayer: VIC's handle-based API (reference/vic-portlayer-swagger.json) over the VCH
// core, on node:http. It serves the routes the VIC provider needs; every failure answers with
// the portlayer's error model and the status of its kind, and a bug answers 500 in one line —
// the daemon never goes down for a request.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createApiServer, type RequestHandler } from '../listener.js';
import type { Vch, VchLogger } from '../vch.js';
import { Committer } from './commit.js';
import { Directory } from './directory.js';
import { ExecTasks } from './exec-tasks.js';
import { HandleStore } from './handles.js';
import { HttpError, sendError, sendJson, serveRequest } from './http.js';
import { ROUTES, type VCHInfo } from '../../api/portlayer/index.js';
import { Router } from './router.js';
import { addContainerRoutes } from './routes-containers.js';
import { addExecRoutes } from './routes-exec.js';
import { addInteractionRoutes } from './routes-interaction.js';
import { addJoinRoutes } from './routes-joins.js';
import { addStatsRoutes } from './routes-stats.js';
import { addVolumeRoutes } from './routes-volumes.js';
import { addForwardRoutes } from './routes-forward.js';
import { hostFacts } from '../host-facts.js';

export interface PortlayerOptions {
  logger?: VchLogger;
  /** The image store's name in /storage/{store}/… (VIC: the VCH's UUID). Default "default". */
  storeName?: string;
  /** The pods the VCH takes, as /vch/info reports it. Default 110 (the kubelet's). */
  maxPods?: number;
  /**
   * Serve under this path prefix ("/portlayer"), to share a listener with the persona: the
   * handler answers only requests under it (others get 404) and routes the rest of the path.
   */
  basePath?: string;
}

export function createPortlayerRouter(vch: Vch, o: PortlayerOptions = {}): Router {
  const router = new Router();
  const handles = new HandleStore();
  const dir = new Directory(vch);
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const execs = new ExecTasks(vch, dir);
  const committer = new Committer(vch, dir, execs, o.logger ?? quiet);

  router.add(ROUTES.ping, async ({ res }) => sendJson(res, 200, 'OK'));
  router.add(ROUTES.vchInfo, async ({ res }) => {
    const [info, facts] = await Promise.all([vch.info(), hostFacts()]);
    const c = info.capacity;
    // Memory available: the host's, within what the VCH may use.
    const memAvail =
      facts.memoryAvailableBytes === undefined
        ? undefined
        : Math.min(facts.memoryAvailableBytes, c.memoryBytes);
    const body: VCHInfo = {
      cpuMhz: c.cpus * 1000,
      memory: Math.floor(c.memoryBytes / 2 ** 20),
      cpuUsage: c.usedCpuMillis,
      memUsage: Math.floor(c.usedMemoryBytes / 2 ** 20),
      hostProductName: `vic-kubelet VCH ${info.version}`,
      hostOS: info.os,
      hostOSVersion: info.kernelVersion,
      numCPUs: c.cpus,
      maxPods: o.maxPods ?? 110,
      runtime: info.runtime,
      ...(vch.network() && { podNetwork: vch.network()!.subnet }),
      kernelVersion: info.kernelVersion,
      architecture: info.architecture === 'x64' ? 'amd64' : info.architecture,
      storageBytes: c.diskBytes,
      storageFreeBytes: c.diskFreeBytes,
      ...(memAvail !== undefined && { memoryAvailableBytes: memAvail }),
      ...(facts.pidMax !== undefined && { pidMax: facts.pidMax }),
      ...(facts.pidsInUse !== undefined && { pidsInUse: facts.pidsInUse }),
      machineID: facts.machineID,
      systemUUID: facts.systemUUID,
      bootID: facts.bootID,
    };
    sendJson(res, 200, body);
  });
  addContainerRoutes(router, vch, handles, dir, committer);
  addVolumeRoutes(router, vch, handles, 'default');
  addJoinRoutes(router, vch, handles, dir, o.storeName ?? 'default', execs);
  addExecRoutes(router, handles, execs);
  addInteractionRoutes(router, execs, vch, dir);
  addStatsRoutes(router, vch, dir);
  addForwardRoutes(router);
  return router;
}

/** A request handler for the portlayer routes (to mount on a server of one's own). */
export function portlayerHandler(vch: Vch, o: PortlayerOptions = {}): RequestHandler {
  const router = createPortlayerRouter(vch, o);
  const base = o.basePath?.replace(/\/+$/, '') ?? '';
  const edge = { what: 'portlayer request', log: o.logger, sendError };
  return (req: IncomingMessage, res: ServerResponse): void =>
    serveRequest(req, res, edge, async (signal) => {
      let url = req.url ?? '/';
      if (base) {
        if (url !== base && !url.startsWith(`${base}/`) && !url.startsWith(`${base}?`))
          throw new HttpError(404, `not a portlayer path: ${url.split('?')[0]}`);
        url = url.slice(base.length) || '/';
      }
      const m = router.match(req.method ?? 'GET', url);
      await m.handler({ req, res, params: m.params, query: m.query, signal });
    });
}

/** The portlayer alone on a server of its own (the VCH serves it with the persona: vch-server.ts). */
export function createPortlayerServer(vch: Vch, o: PortlayerOptions = {}): Server {
  return createApiServer({ request: portlayerHandler(vch, o) });
}
