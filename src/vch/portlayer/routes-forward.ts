// The portlayer's port-forward (our extension, src/api/portlayer/routes.ts `portForward`): an
// upgrade request on the VCH's listener, answered `101 Switching Protocols` once the
// connection inside the pod is made, after which the socket carries that TCP connection's bytes
// both ways (each half-close passed on). One upgraded connection per forwarded connection: the
// HTTP server keeps them apart, and TCP gives each its own flow control.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ROUTES, type PortlayerError } from '../../api/portlayer/index.js';
import { answerMessage, fromBrowser, statusOf } from '../http-edge.js';
import { invalidInput, notFound } from '../errors.js';
import type { Vch, VchLogger } from '../vch.js';
import type { Directory } from './directory.js';
import { Router } from './router.js';
import { splice } from '../../api/splice.js';

/** An error answered on the raw socket, with the portlayer's error model. */
function rawError(socket: Duplex, err: unknown): void {
  const status = statusOf(err);
  const body: PortlayerError = { code: status, message: answerMessage(err, status) };
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

/** The portlayer's upgrades: port-forward only. `basePath`: the portlayer's prefix. */
export function portlayerUpgrade(vch: Vch, dir: Directory, basePath: string, log?: VchLogger) {
  const router = new Router().add(ROUTES.portForward, async () => undefined);
  return async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    socket.on('error', () => {});
    try {
      const browser = fromBrowser(req);
      if (browser) throw invalidInput(`refused: a request from a web page (${browser})`);
      const url = (req.url ?? '/').slice(basePath.length) || '/';
      const m = router.match(req.method ?? 'GET', url);
      if (!/^tcp$/i.test(req.headers.upgrade ?? ''))
        throw invalidInput('port-forward needs Upgrade: tcp');
      const [id, portText] = m.params;
      const port = Number(portText);
      if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535)
        throw invalidInput(`port ${JSON.stringify(portText)}: want 1 to 65535`);
      const pod = await dir.pod(id);
      if (!pod) throw notFound(`no such container: ${id}`);
      const conn = await vch.portForward(pod.id, port);
      if (socket.destroyed) return void conn.destroy();
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
      );
      if (head.length > 0) socket.unshift(head);
      void splice(socket, conn);
    } catch (err) {
      if (statusOf(err) === 500) log?.error({ err: answerMessage(err) }, 'port-forward failed');
      rawError(socket, err);
    }
  };
}

/** The route on the request path: without the upgrade it is a clear 400. */
export function addForwardRoutes(router: Router): void {
  router.add(ROUTES.portForward, async () => {
    throw invalidInput('port-forward is an upgrade: send Connection: Upgrade and Upgrade: tcp');
  });
}
