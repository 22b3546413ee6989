// Published ports (Docker's -p HOST:CONTAINER) as the VCH takes them: on a container's own pod
// only (a pod's ports are fixed when its sandbox is made), on the bridge network only (portmap
// DNATs the VCH's addresses to the pod's: a runc pod's veth or a pod VM's tap alike), never
// twice for one host port and protocol.
import type { PublishedPort } from '../../runtime/runtime.js';
import { conflict, invalidInput } from '../errors.js';
import { tryParseCidr } from './cidr.js';

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

export interface PortContext {
  /** Whether the VCH has a bridge network. */
  network: boolean;
  /** The container joins a pod that exists (rather than getting one of its own). */
  joinsPod: boolean;
  /** The ports other pods publish, by pod name. */
  taken: { pod: string; ports: readonly PublishedPort[] }[];
}

function clash(a: PublishedPort, b: PublishedPort): boolean {
  return (
    a.hostPort !== 0 &&
    a.hostPort === b.hostPort &&
    a.protocol === b.protocol &&
    (!a.hostIP || !b.hostIP || a.hostIP === b.hostIP)
  );
}

function where(p: PublishedPort): string {
  return `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}/${p.protocol}`;
}

/**
 * Throws the one clear error a request's ports earn, if any. Host port 0 is one the VCH is to
 * pick (host-port-allocator.ts), allowed where `anyHostPort`.
 */
export function checkPublishedPorts(
  ports: readonly PublishedPort[],
  ctx: PortContext,
  anyHostPort = false,
): void {
  if (ports.length === 0) return;
  for (const p of ports) {
    for (const [what, v, min] of [
      ['host port', p.hostPort, anyHostPort ? 0 : 1],
      ['container port', p.containerPort, 1],
    ] as const)
      if (!Number.isInteger(v) || v < min || v > 65535)
        throw invalidInput(`invalid ${what} ${v}: want 1 to 65535`);
    if (!PROTOCOLS.has(p.protocol))
      throw invalidInput(`invalid protocol ${JSON.stringify(p.protocol)}: want tcp, udp or sctp`);
    if (p.hostIP !== undefined && (tryParseCidr(p.hostIP)?.prefix !== 32 || p.hostIP.includes('/')))
      throw invalidInput(`invalid host address ${JSON.stringify(p.hostIP)}: want an IPv4 address`);
  }
  if (!ctx.network)
    throw invalidInput(
      "published ports need the VCH's bridge network: this VCH runs with --bridge-network none",
    );
  if (ctx.joinsPod)
    throw invalidInput("published ports are the pod's: a container joining a pod cannot add any");
  ports.forEach((p, i) => {
    if (ports.slice(0, i).some((q) => clash(p, q)))
      throw invalidInput(`port ${where(p)} is published twice`);
    for (const t of ctx.taken)
      if (t.ports.some((q) => clash(p, q)))
        throw conflict(`Bind for ${where(p)} failed: port is already allocated (by ${t.pod})`);
  });
}
