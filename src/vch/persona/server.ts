// The persona: the Docker Engine API subset over the VCH core, on node:http. Every handler's
// failure becomes one Docker JSON error with the status of its kind; a bug answers 500 with one
// line and is logged — the daemon never goes down for a request.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { VchLogger } from '../vch.js';
import { Vch } from '../vch.js';
import type { Duplex } from 'node:stream';
import { type ApiHandlers, createApiServer } from '../listener.js';
import { handleUpgrade } from './attach.js';
import { addContainerRoutes } from './containers.js';
import { addExecRoutes } from './exec.js';
import { addEventRoutes } from './events.js';
import { sendError, serveRequest } from './http.js';
import { addImageRoutes } from './images.js';
import { MAX_API_VERSION, Router } from './router.js';
import { addStatsRoutes } from './stats.js';
import { addNetworkRoutes } from './networks.js';
import { addSystemRoutes } from './system.js';
import { addVolumeRoutes } from './volumes.js';
import { addTopRoutes } from './top.js';
import { addArchiveRoutes } from './archive.js';

export interface PersonaOptions {
  logger?: VchLogger;
  insecureRegistries?: readonly string[];
  /** Where uploaded image archives are spooled. */
  tmpDir: string;
}

export function createPersonaRouter(vch: Vch, options: PersonaOptions): Router {
  const router = new Router();
  addSystemRoutes(router, vch, options.insecureRegistries ?? []);
  addImageRoutes(router, vch, options.tmpDir);
  addContainerRoutes(router, vch);
  addExecRoutes(router, vch);
  addTopRoutes(router, vch);
  addArchiveRoutes(router, vch);
  addStatsRoutes(router, vch);
  addVolumeRoutes(router, vch);
  addNetworkRoutes(router, vch);
  addEventRoutes(router, vch);
  return router;
}

/** The persona's handlers: its routes, and the upgrade of `docker attach`. */
export function personaHandlers(vch: Vch, options: PersonaOptions): ApiHandlers {
  const router = createPersonaRouter(vch, options);
  const log = options.logger;
  const request = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('Api-Version', MAX_API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', `vic-kubelet/${vch.version} (linux)`);
    serveRequest(req, res, { what: 'request', log, sendError }, async (signal) => {
      const m = router.match(req.method ?? 'GET', req.url ?? '/');
      await m.handler({
        req,
        res,
        params: m.params,
        query: m.query,
        apiVersion: m.apiVersion,
        signal,
      });
    });
  };
  // `docker run` without -d attaches on a hijacked connection; `docker exec` starts on one.
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    void handleUpgrade(router, vch, req, socket, log, head);
  };
  return { request, upgrade };
}

/** The persona alone on a server of its own (the VCH serves it with the portlayer: vch-server.ts). */
export function createPersonaServer(vch: Vch, options: PersonaOptions): Server {
  return createApiServer(personaHandlers(vch, options));
}
