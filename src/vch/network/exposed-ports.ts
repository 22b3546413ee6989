// A container's exposed ports, as dockerd merges them: the image's (EXPOSE), the request's
// (--expose, and every port -p publishes), "PORT/PROTO" keys; and Docker's -P on top of -p:
// every exposed port with no binding of its own is published on a host port the VCH picks.
import type { PublishedPort } from '../../runtime/runtime.js';
import { invalidInput } from '../errors.js';

type Protocol = PublishedPort['protocol'];

export interface PortKey {
  port: number;
  protocol: Protocol;
}

/** "80/tcp", "53/udp", or "80" (tcp); undefined for anything else. */
export function parsePortKey(key: string): PortKey | undefined {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(key);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { port, protocol: (m[2] ?? 'tcp') as Protocol };
}

/** A request's exposed port: one clear error when it is not one. */
export function checkPortKey(key: string): string {
  const k = parsePortKey(key);
  if (!k)
    throw invalidInput(
      `invalid exposed port ${JSON.stringify(key)}: want PORT or PORT/PROTO (tcp, udp, sctp), PORT 1 to 65535`,
    );
  return `${k.port}/${k.protocol}`;
}

/**
 * The exposed ports of a container, sorted by port then protocol: the image config's
 * ExposedPorts (keys that are not ports are skipped: the image is not the caller's input),
 * the request's, and the container ports it publishes.
 */
export function mergeExposedPorts(
  imageExposed: unknown,
  requested: readonly string[] | undefined,
  published: readonly PublishedPort[],
): string[] {
  const keys = new Map<string, PortKey>();
  const add = (k: PortKey | undefined) => {
    if (k) keys.set(`${k.port}/${k.protocol}`, k);
  };
  if (typeof imageExposed === 'object' && imageExposed !== null && !Array.isArray(imageExposed))
    for (const key of Object.keys(imageExposed)) add(parsePortKey(key));
  for (const key of requested ?? []) add(parsePortKey(key));
  for (const p of published) add({ port: p.containerPort, protocol: p.protocol });
  return [...keys.entries()]
    .sort(([, a], [, b]) => a.port - b.port || a.protocol.localeCompare(b.protocol))
    .map(([k]) => k);
}

/** -P: the bindings asked for, and each exposed port without one on host port 0 (any). */
export function publishAll(
  bindings: readonly PublishedPort[],
  exposed: readonly string[],
): PublishedPort[] {
  const out = [...bindings];
  for (const key of exposed) {
    const k = parsePortKey(key)!;
    if (!bindings.some((b) => b.containerPort === k.port && b.protocol === k.protocol))
      out.push({ hostPort: 0, containerPort: k.port, protocol: k.protocol });
  }
  return out;
}
