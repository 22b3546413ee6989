// IPv4 ranges: the VCH's bridge network as `--bridge-network CIDR` gives it, the host's routes
// it must not overlap (`ip -j route`), and the default range: the first candidate no route of
// the host's covers. Pure functions; the caller reads the routes.
import { invalidInput } from '../errors.js';

export interface Cidr {
  /** The network address as an unsigned 32-bit number (host bits zero). */
  base: number;
  prefix: number;
}

/** The ranges tried, in order, when no --bridge-network is given (podman's first, then more). */
export const DEFAULT_CANDIDATES = [
  '10.88.0.0/16',
  '10.89.0.0/16',
  '10.90.0.0/16',
  '10.91.0.0/16',
  '172.30.0.0/16',
  '172.31.0.0/16',
  '192.168.234.0/24',
];

function parseIp(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `a.b.c.d/n` or `a.b.c.d` (a /32); undefined when it is neither. */
export function tryParseCidr(s: string): Cidr | undefined {
  const m = /^([0-9.]+)(?:\/(\d{1,2}))?$/.exec(s);
  if (!m) return undefined;
  const ip = parseIp(m[1]);
  const prefix = m[2] === undefined ? 32 : Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  return { base: (ip & mask(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.prefix}`;
}

/**
 * `--bridge-network`'s value: an IPv4 network between /8 and /28 (a bridge needs a gateway and
 * room for pods), given as its network address. One clear line for anything else.
 */
export function parseBridgeCidr(value: string, flag = '--bridge-network'): Cidr {
  const c = tryParseCidr(value);
  if (!c || !value.includes('/'))
    throw invalidInput(
      `${flag} ${JSON.stringify(value)}: want an IPv4 network such as 10.88.0.0/16`,
    );
  if (c.prefix < 8 || c.prefix > 28)
    throw invalidInput(`${flag} ${value}: want a prefix length between /8 and /28`);
  if (formatCidr(c) !== value)
    throw invalidInput(`${flag} ${value}: host bits are set (the network is ${formatCidr(c)})`);
  const first = c.base >>> 24;
  if (first === 0 || first === 127 || first >= 224)
    throw invalidInput(
      `${flag} ${value}: not a range pods can use (loopback, multicast or reserved)`,
    );
  return c;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask(p)) >>> 0 === (b.base & mask(p)) >>> 0;
}

/** The gateway of a bridge network: its first address. */
export function gatewayOf(c: Cidr): string {
  return formatIp(c.base + 1);
}

export interface Route {
  /** The destination as `ip -j route` prints it: "default", "a.b.c.d" or "a.b.c.d/n". */
  dst: string;
  dev?: string;
}

/** A routed destination, with the device it goes through (for the message). */
export interface RoutedRange extends Cidr {
  dev?: string;
}

/** The destinations of the routes a bridge network must not overlap: all but the default. */
export function routedRanges(routes: readonly Route[], ownBridge: string): RoutedRange[] {
  return routes
    .filter((r) => r.dst !== 'default' && r.dev !== ownBridge)
    .flatMap((r) => {
      const c = tryParseCidr(r.dst);
      return c ? [{ ...c, ...(r.dev && { dev: r.dev }) }] : [];
    });
}

/** The route a range overlaps, if any. */
export function overlapping<R extends Cidr>(c: Cidr, routes: readonly R[]): R | undefined {
  return routes.find((r) => overlaps(c, r));
}

/** Bridges of VCHs are "vic" and 8 hex digits (bridge-network.ts bridgeName()). */
const VCH_BRIDGE = /^vic[0-9a-f]{8}$/;

/** Where a route goes, for a message: "on eth0", "on vic0123abcd (another VCH's bridge)". */
function routeDevice(r: RoutedRange): string {
  if (!r.dev) return '';
  return VCH_BRIDGE.test(r.dev) ? ` on ${r.dev} (another VCH's bridge)` : ` on ${r.dev}`;
}

/**
 * The bridge network to use: `requested` when it overlaps no route (one clear error when it
 * does), else the first default candidate that overlaps none.
 */
export function chooseBridgeCidr(
  requested: string | undefined,
  routes: readonly RoutedRange[],
): Cidr {
  if (requested !== undefined) {
    const c = parseBridgeCidr(requested);
    const hit = overlapping(c, routes);
    if (hit)
      throw invalidInput(
        `--bridge-network ${requested} overlaps the host's route to ${formatCidr(hit)}${routeDevice(hit)}: choose another range`,
      );
    return c;
  }
  for (const s of DEFAULT_CANDIDATES) {
    const c = tryParseCidr(s)!;
    if (!overlapping(c, routes)) return c;
  }
  throw invalidInput(
    `every default bridge network (${DEFAULT_CANDIDATES.join(', ')}) overlaps a route of the host: give --bridge-network`,
  );
}
