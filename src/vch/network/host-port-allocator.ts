// Host ports picked by the VCH (Docker's -P, and -p CONTAINER or -p :CONTAINER without a host
// port), as dockerd's port allocator picks them: from the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, read in the VCH's network namespace), going on after the last
// one it gave for the protocol and wrapping round, skipping a port another pod publishes and
// one that something on the host has bound (a trial bind, as dockerd's OS allocator does).
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { PublishedPort } from '../../runtime/runtime.js';
import { conflict } from '../errors.js';

/** dockerd's range where the kernel's cannot be read. */
export const FALLBACK_RANGE: readonly [number, number] = [49153, 65535];

/** The kernel's ephemeral port range, as `net.ipv4.ip_local_port_range` has it. */
export async function ephemeralRange(): Promise<[number, number]> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1 || hi > 65535 || lo > hi) return [...FALLBACK_RANGE];
  return [lo, hi];
}

/** Whether nothing on this host (this network namespace) has bound the port. */
export function canBind(
  port: number,
  protocol: PublishedPort['protocol'],
  hostIP = '0.0.0.0',
): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind({ port, address: hostIP, exclusive: true }, () => s.close(() => resolve(true)));
      return;
    }
    // tcp; sctp has no trial here (Node has no SCTP sockets): a tcp bind on the same port is
    // the closest a listener is to be found.
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: hostIP, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export interface AllocatorDeps {
  range: () => Promise<[number, number]>;
  free: (port: number, protocol: PublishedPort['protocol'], hostIP?: string) => Promise<boolean>;
}

const overlapsAddress = (a: PublishedPort, b: PublishedPort) =>
  a.protocol === b.protocol && (!a.hostIP || !b.hostIP || a.hostIP === b.hostIP);

export class HostPortAllocator {
  /** The last port given, by protocol: the next search starts after it (as dockerd's). */
  readonly #last = new Map<string, number>();

  constructor(private readonly deps: AllocatorDeps = { range: ephemeralRange, free: canBind }) {}

  /**
   * The ports with every host port 0 replaced by a free one; the others as they are. `taken`:
   * what other pods publish. Conflict when the whole range is in use.
   */
  async allocate(
    ports: readonly PublishedPort[],
    taken: readonly PublishedPort[],
  ): Promise<PublishedPort[]> {
    if (!ports.some((p) => p.hostPort === 0)) return [...ports];
    const [lo, hi] = await this.deps.range();
    const out: PublishedPort[] = [];
    for (const p of ports) {
      if (p.hostPort !== 0) {
        out.push(p);
        continue;
      }
      const busy = (port: number) =>
        [...taken, ...ports, ...out].some((q) => q.hostPort === port && overlapsAddress(p, q));
      let port = this.#last.get(p.protocol) ?? hi;
      let found: number | undefined;
      for (let n = lo; n <= hi && found === undefined; n++) {
        port = port >= hi ? lo : port + 1;
        // Moved on before the trial bind, so a create running beside this one tries the next.
        this.#last.set(p.protocol, port);
        if (!busy(port) && (await this.deps.free(port, p.protocol, p.hostIP))) found = port;
      }
      if (found === undefined)
        throw conflict(
          `no free host port for ${p.containerPort}/${p.protocol} in ${lo}-${hi}: all ports are allocated`,
        );
      out.push({ ...p, hostPort: found });
    }
    return out;
  }
}
