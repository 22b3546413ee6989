// The VCH's API on one listener: the persona (Docker Engine API) and, under /portlayer, the
// portlayer — each an API's handlers, composed here. One listener means one address for a VCH,
// embedded or remote: `unix:///DIR/docker.sock` or `http://127.0.0.1:PORT`, the portlayer at
// the same address plus /portlayer (what `vic-kubelet node --vch URL` takes); the read-only admin
// page under /admin (admin/). `vch serve`,
// `node` and `run` all serve a VCH with createVchServer.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { PORTLAYER_PATH } from './address.js';
import { adminHandler, isAdminPath } from './admin/admin-routes.js';
import { closeApiServer, createApiServer, type ServerTls } from './listener.js';
import { personaHandlers } from './persona/server.js';
import { portlayerHandler } from './portlayer/server.js';
import { Directory } from './portlayer/directory.js';
import { portlayerUpgrade } from './portlayer/routes-forward.js';
import { countRequest, serveMetrics } from './metrics/metrics-route.js';
import type { Vch, VchLogger } from './vch.js';

export interface VchServerOptions {
  logger?: VchLogger;
  insecureRegistries?: readonly string[];
  /** Where uploaded image archives are spooled. */
  tmpDir: string;
  /** The pods the VCH takes, as /vch/info reports it. */
  maxPods?: number;
}

/** The persona, with the portlayer's routes under /portlayer, on one HTTP server. */
export function createVchServer(vch: Vch, o: VchServerOptions, tls?: ServerTls): Server {
  const persona = personaHandlers(vch, o);
  const portlayer = portlayerHandler(vch, {
    basePath: PORTLAYER_PATH,
    ...(o.logger && { logger: o.logger }),
    ...(o.maxPods !== undefined && { maxPods: o.maxPods }),
  });
  const admin = adminHandler(vch, { ...(o.logger && { logger: o.logger }) });
  const forward = portlayerUpgrade(vch, new Directory(vch), PORTLAYER_PATH, o.logger);
  // Upgrades: the portlayer's port-forward under its path, the persona's (docker attach) else.
  return createApiServer(
    {
      request: (req: IncomingMessage, res: ServerResponse) => {
        const path = (req.url ?? '/').split('?')[0];
        const api =
          path === '/metrics'
            ? 'metrics'
            : path === PORTLAYER_PATH || path.startsWith(`${PORTLAYER_PATH}/`)
              ? 'portlayer'
              : isAdminPath(path)
                ? 'admin'
                : 'persona';
        countRequest(vch.metrics, api, req, res);
        if (api === 'metrics') serveMetrics(vch.metrics, req, res, o.logger);
        else if (api === 'portlayer') portlayer(req, res);
        else if (api === 'admin') admin(req, res);
        else persona.request(req, res);
      },
      upgrade: (req, socket, head) => {
        const path = (req.url ?? '/').split('?')[0];
        if (path.startsWith(`${PORTLAYER_PATH}/`)) void forward(req, socket, head);
        else persona.upgrade?.(req, socket, head);
      },
    },
    tls,
  );
}

/** Stops serving: no new connections, and the open ones (followers, attached clients) ended. */
export const closeVchServer = closeApiServer;
