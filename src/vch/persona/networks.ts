// `docker network ls` and `docker network inspect`: the VCH's one network, its bridge (VIC's
// bridge scope), in Docker's shape — the range and gateway, the Linux bridge's name, and the
// containers attached with their addresses. A VCH with --bridge-network none has no network to
// list. Networks are not made or removed through the persona: the VCH has the one it was given.
import { createHash } from 'node:crypto';
import { notFound } from '../errors.js';
import type { Vch } from '../vch.js';
import type { ContainerInfo, NetworkInfo } from '../types.js';
import { sendJson } from './http.js';
import type { Router } from './router.js';

/** A stable 64-hex id for the network, from its bridge's name (Docker's ids are 64 hex). */
function networkId(n: NetworkInfo): string {
  return createHash('sha256').update(`vic-network ${n.bridge}`).digest('hex');
}

function networkShape(n: NetworkInfo, containers: ContainerInfo[]): Record<string, unknown> {
  const attached = containers.filter((c) => c.network?.scope === n.scope && c.status === 'running');
  return {
    Name: n.scope,
    Id: networkId(n),
    Created: '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: false,
    IPAM: {
      Driver: 'host-local',
      Options: null,
      Config: [{ Subnet: n.subnet, Gateway: n.gateway }],
    },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: Object.fromEntries(
      attached.map((c) => [
        c.id,
        {
          Name: c.name,
          EndpointID: `${c.podId.slice(0, 12)}-${n.scope}`,
          MacAddress: c.network?.mac ?? '',
          IPv4Address: c.network?.address ?? '',
          IPv6Address: '',
        },
      ]),
    ),
    Options: { 'com.docker.network.bridge.name': n.bridge },
    Labels: {},
  };
}

export function addNetworkRoutes(router: Router, vch: Vch): void {
  router.add('GET', '/networks', async ({ res }) => {
    const n = vch.network();
    sendJson(res, 200, n ? [networkShape(n, await vch.listContainers({ all: true }))] : []);
  });

  router.add('GET', '/networks/{id}', async ({ res, params }) => {
    const n = vch.network();
    const want = params[0];
    if (!n || (want !== n.scope && !(want.length >= 3 && networkId(n).startsWith(want))))
      throw notFound(`network ${want} not found`);
    sendJson(res, 200, networkShape(n, await vch.listContainers({ all: true })));
  });
}
