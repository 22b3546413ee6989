// The persona: the Docker Engine API subset over the VCH core, on node:http. Every handler's
// failure becomes one Docker JSON error with the status of its kind; a bug answers 500 with one
// line and is logged — the daemon never goes down for a request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { VchLogger } from '../vch.js';
import { Vch } from '../vch.js';
import type { Duplex } from 'node:stream';
import { handleUpgrade } from './attach.js';
import { addContainerRoutes } from './containers.js';
import { addEventRoutes } from './events.js';
import { oneLine, sendError, statusOf } from './http.js';
import { addImageRoutes } from './images.js';
import { MAX_API_VERSION, Router } from './router.js';
import { addSystemRoutes } from './system.js';

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
  addEventRoutes(router, vch);
  return router;
}

/** Connections taken over by attach: the HTTP server no longer tracks them. */
const hijackedOf = new WeakMap<Server, Set<Duplex>>();

/**
 * Stops a persona server: no new connections, and the open ones (log followers, waiters,
 * attached clients) ended, so that a VCH shutting down is not held up by its clients.
 */
export function closePersonaServer(server: Server): Promise<void> {
  return new Promise((done) => {
    if (!server.listening) return done();
    server.close(() => done());
    server.closeAllConnections();
    for (const s of hijackedOf.get(server) ?? []) s.destroy();
  });
}

export function createPersonaServer(vch: Vch, options: PersonaOptions): Server {
  const router = createPersonaRouter(vch, options);
  const log = options.logger;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Api-Version', MAX_API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', `vic-kubelet/${vch.version} (linux)`);
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new Error('client went away'));
    });
    const started = Date.now();
    void (async () => {
      try {
        const m = router.match(req.method ?? 'GET', req.url ?? '/');
        await m.handler({
          req,
          res,
          params: m.params,
          query: m.query,
          apiVersion: m.apiVersion,
          signal: ac.signal,
        });
      } catch (e) {
        const status = statusOf(e);
        if (status >= 500)
          log?.error(
            { method: req.method, url: req.url, err: oneLine(e), stack: (e as Error).stack },
            'request failed',
          );
        sendError(res, e);
      } finally {
        log?.debug(
          { method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started },
          'request',
        );
      }
    })();
  });
  // `docker run` without -d attaches on a hijacked connection.
  const hijacked = new Set<Duplex>();
  hijackedOf.set(server, hijacked);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    hijacked.add(socket);
    socket.once('close', () => hijacked.delete(socket));
    void handleUpgrade(router, vch, req, socket, log);
  });
  // A malformed request line or headers: a 400 of our own, never a crash.
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
    void err;
  });
  return server;
}
