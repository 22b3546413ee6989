// Docker's published ports on the persona's edge: HostConfig.PortBindings of a create
// ({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}) into the core's PublishedPort,
// and back into inspect's NetworkSettings.Ports / HostConfig.PortBindings and the list's Ports.
import type { PublishedPort } from '../../runtime/runtime.js';
import { invalidInput } from '../errors.js';
import { checkPortKey } from '../network/exposed-ports.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function port(s: string, what: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535)
    throw invalidInput(`invalid ${what} ${JSON.stringify(s)}: want 1 to 65535`);
  return Number(s);
}

/** Config.ExposedPorts ({"80/tcp": {}}, Docker's --expose) as "PORT/PROTO" keys. */
export function parseExposedPorts(body: Record<string, unknown>): string[] {
  const e = body.ExposedPorts;
  if (e === undefined || e === null) return [];
  if (!isObject(e)) throw invalidInput('invalid ExposedPorts: want an object');
  return Object.keys(e).map(checkPortKey);
}

/**
 * HostConfig.PortBindings as the core's ports. A binding without a host port (`-p 80`,
 * `-p 127.0.0.1::80`) is host port 0: one the VCH picks, as for -P (PublishAllPorts).
 */
export function parsePortBindings(host: Record<string, unknown>): PublishedPort[] {
  const b = host.PortBindings;
  if (b === undefined || b === null) return [];
  if (!isObject(b)) throw invalidInput('invalid PortBindings: want an object');
  const out: PublishedPort[] = [];
  for (const [key, list] of Object.entries(b)) {
    const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!m) throw invalidInput(`invalid port ${JSON.stringify(key)}: want PORT/tcp, udp or sctp`);
    const containerPort = port(m[1], 'container port');
    const protocol = (m[2] ?? 'tcp') as PublishedPort['protocol'];
    if (!Array.isArray(list)) throw invalidInput(`invalid PortBindings[${key}]: want a list`);
    for (const e of list) {
      if (!isObject(e)) throw invalidInput(`invalid PortBindings[${key}]: want objects`);
      const hostPort = typeof e.HostPort === 'string' ? e.HostPort : '';
      if (hostPort.includes('-'))
        throw invalidInput(`port ${key}: host port ranges are not supported yet`);
      const hostIP = typeof e.HostIp === 'string' && e.HostIp !== '' ? e.HostIp : undefined;
      out.push({
        hostPort: hostPort === '' || hostPort === '0' ? 0 : port(hostPort, 'host port'),
        containerPort,
        protocol,
        ...(hostIP !== undefined && hostIP !== '0.0.0.0' && { hostIP }),
      });
    }
  }
  return out;
}

/** HostConfig.PortBindings as inspect shows them: as asked for ("" for a port the VCH picks). */
export function portBindings(ports: readonly PublishedPort[]): Record<string, unknown> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports)
    (out[`${p.containerPort}/${p.protocol}`] ??= []).push({
      HostIp: p.hostIP ?? '',
      HostPort: p.hostPort === 0 ? '' : String(p.hostPort),
    });
  return out;
}

/**
 * NetworkSettings.Ports, as dockerd fills them for a container on the bridge: each published
 * port with its host address and port, and each exposed one published nowhere as null.
 */
export function portMap(
  ports: readonly PublishedPort[],
  exposed: readonly string[] = [],
): Record<string, unknown> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of exposed) out[key] = null;
  for (const p of ports)
    (out[`${p.containerPort}/${p.protocol}`] ??= []).push({
      HostIp: p.hostIP ?? '0.0.0.0',
      HostPort: String(p.hostPort),
    });
  return out;
}

/** The list's Ports entries: the published ones, and the exposed ones with no public port. */
export function portList(
  ports: readonly PublishedPort[],
  exposed: readonly string[] = [],
): Record<string, unknown>[] {
  const published = ports.map((p) => ({
    IP: p.hostIP ?? '0.0.0.0',
    PrivatePort: p.containerPort,
    PublicPort: p.hostPort,
    Type: p.protocol,
  }));
  const unpublished = exposed
    .filter((k) => !ports.some((p) => `${p.containerPort}/${p.protocol}` === k))
    .map((k) => {
      const [port, protocol] = k.split('/');
      return { PrivatePort: Number(port), Type: protocol };
    });
  return [...published, ...unpublished];
}
