// Docker's published ports on the persona's edge: HostConfig.PortBindings of a create
// ({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}) into the core's PublishedPort,
// and back into inspect's NetworkSettings.Ports / HostConfig.PortBindings and the list's Ports.
import type { PublishedPort } from '../../runtime/runtime.js';
import { invalidInput } from '../errors.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function port(s: string, what: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535)
    throw invalidInput(`invalid ${what} ${JSON.stringify(s)}: want 1 to 65535`);
  return Number(s);
}

/** HostConfig.PortBindings as the core's ports; PublishAllPorts (-P) is refused. */
export function parsePortBindings(host: Record<string, unknown>): PublishedPort[] {
  if (host.PublishAllPorts === true)
    throw invalidInput('PublishAllPorts (-P) is not supported yet: publish each port with -p');
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
      if (hostPort === '' || hostPort === '0')
        throw invalidInput(
          `port ${key}: a host port is needed (-p HOST:${containerPort}); random host ports are not supported yet`,
        );
      if (hostPort.includes('-'))
        throw invalidInput(`port ${key}: host port ranges are not supported yet`);
      const hostIP = typeof e.HostIp === 'string' && e.HostIp !== '' ? e.HostIp : undefined;
      out.push({
        hostPort: port(hostPort, 'host port'),
        containerPort,
        protocol,
        ...(hostIP !== undefined && hostIP !== '0.0.0.0' && { hostIP }),
      });
    }
  }
  return out;
}

/** Docker's port map: {"80/tcp": [{HostIp, HostPort}]}, as inspect shows it. */
export function portMap(ports: readonly PublishedPort[]): Record<string, unknown> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports)
    (out[`${p.containerPort}/${p.protocol}`] ??= []).push({
      HostIp: p.hostIP ?? '0.0.0.0',
      HostPort: String(p.hostPort),
    });
  return out;
}

/** The list's Ports entries. */
export function portList(ports: readonly PublishedPort[]): Record<string, unknown>[] {
  return ports.map((p) => ({
    IP: p.hostIP ?? '0.0.0.0',
    PrivatePort: p.containerPort,
    PublicPort: p.hostPort,
    Type: p.protocol,
  }));
}
