// `/portForward/{namespace}/{pod}[/{uid}]` on the kubelet API: the upgrade to SPDY/3.1 (what
// the apiserver sends) or WebSocket (direct clients), after the request was authenticated and
// authorized (nodes/proxy) as every request is.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpError } from '../../errdefs.js';
import type { Logger } from '../../logging/logger.js';
import { notFound } from '../errors.js';
import type { Provider } from '../provider.js';
import { type PortForwardTarget, serveSpdyPortForward } from './port-forward.js';
import {
  isWebSocketUpgrade,
  serveWebSocketPortForward,
  wsForwardPorts,
} from './port-forward-ws.js';
import { isSpdyUpgrade } from './spdy-exec.js';

/** The pod of `/portForward/{namespace}/{pod}[/{uid}]`; HttpError 400 otherwise. */
export function portForwardTarget(parts: string[]): PortForwardTarget {
  if (parts.length < 3 || parts.length > 4 || parts.slice(1).some((p) => p === ''))
    throw new HttpError(400, 'want /portForward/{namespace}/{pod}[/{uid}]');
  try {
    const [namespace, pod, uid] = parts.slice(1).map((p) => decodeURIComponent(p));
    return { namespace: namespace!, pod: pod!, ...(uid !== undefined && { uid }) };
  } catch {
    throw new HttpError(400, 'malformed escape in the path');
  }
}

export async function servePortForward(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  provider: Provider,
  parts: string[],
  query: URLSearchParams,
  log: Logger,
): Promise<void> {
  if (req.method !== 'POST' && req.method !== 'GET')
    throw new HttpError(405, '/portForward answers GET and POST only');
  const target = portForwardTarget(parts);
  const ws = isWebSocketUpgrade(req);
  if (!ws && !isSpdyUpgrade(req))
    throw new HttpError(
      400,
      `unsupported upgrade ${JSON.stringify(req.headers.upgrade ?? '')}: want SPDY/3.1 or websocket`,
    );
  const ports = ws ? wsForwardPorts(query) : [];
  const pod = await provider.getPod(target.namespace, target.pod);
  if (!pod) throw notFound(`pod ${target.namespace}/${target.pod} is not on this node`);
  if (target.uid !== undefined && pod.metadata?.uid !== target.uid)
    throw notFound(
      `pod ${target.namespace}/${target.pod} with uid ${target.uid} is not on this node`,
    );
  if (!provider.portForward) throw new HttpError(501, 'this node cannot forward ports');
  if (ws) return serveWebSocketPortForward(req, socket, head, provider, target, ports, log);
  await serveSpdyPortForward(req, socket, head, provider, target, log);
}
