// An HTTP server over an API's handlers: its requests, and its upgrades (connections taken
// over, as `docker attach` does). Closing it ends the open connections too — log followers,
// waiters, attached clients — so that a VCH shutting down is not held up by its clients. The
// persona, the portlayer and the VCH's one listener for both (vch-server.ts) are built on it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { clientErrorAnswer, serverLimits } from '../http-limits.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface ApiHandlers {
  request: RequestHandler;
  /** Upgrade requests; without one, the server refuses them (node:http closes the socket). */
  upgrade?: UpgradeHandler;
}

/** Connections taken over by an upgrade: the HTTP server no longer tracks them. */
const upgradedOf = new WeakMap<Server, Set<Duplex>>();

/**
 * TLS with client certificates, as dockerd's --tlsverify: the server's key and certificate, and
 * the CA whose certificates clients must present (a client without one is refused in the
 * handshake, before any request is read).
 */
export interface ServerTls {
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
}

export function createApiServer(handlers: ApiHandlers, tls?: ServerTls): Server {
  const server: Server = tls
    ? createTlsServer(
        {
          ...tls,
          ...serverLimits,
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
        },
        handlers.request,
      )
    : createServer(serverLimits, handlers.request);
  // An exec's stdin (POST /interaction/{id}/stdin) is a request body as long as the session:
  // node's 5-minute limit on a whole request would cut it. Headers keep their limit.
  server.requestTimeout = 0;
  const { upgrade } = handlers;
  if (upgrade) {
    const upgraded = new Set<Duplex>();
    upgradedOf.set(server, upgraded);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
      upgrade(req, socket, head);
    });
  }
  // A malformed request line or headers (431 when too large): an answer of our own, never a
  // crash.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable) socket.end(clientErrorAnswer(err));
    else socket.destroy();
  });
  return server;
}

/** Stops a server made by createApiServer: no new connections, and the open ones ended. */
export function closeApiServer(server: Server): Promise<void> {
  return new Promise((done) => {
    if (!server.listening) return done();
    server.close(() => done());
    server.closeAllConnections();
    for (const s of upgradedOf.get(server) ?? []) s.destroy();
  });
}
