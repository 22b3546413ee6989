// The portlayer's extension `ports` of ContainerCreateConfig (Kubernetes' hostPort): each
// shape-checked here, so a bad one is the create request's 400 in one line; whether the VCH can
// publish them (a bridge, runc, a free port) is the pod service's check at commit.
import type { PortMapping } from '../../api/portlayer/index.js';
import { invalidInput } from '../errors.js';

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

export function portMappingsOf(v: unknown): PortMapping[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidInput('ports must be a list');
  return v.map((p: unknown, i): PortMapping => {
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw invalidInput(`ports[${i}] must be an object`);
    const o = p as Record<string, unknown>;
    for (const f of ['hostPort', 'containerPort'] as const) {
      const n = o[f];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535)
        throw invalidInput(`ports[${i}].${f} ${JSON.stringify(n)}: want 1 to 65535`);
    }
    if (typeof o.protocol !== 'string' || !PROTOCOLS.has(o.protocol))
      throw invalidInput(
        `ports[${i}].protocol ${JSON.stringify(o.protocol)}: want tcp, udp or sctp`,
      );
    if (o.hostIP !== undefined && typeof o.hostIP !== 'string')
      throw invalidInput(`ports[${i}].hostIP must be a string`);
    return {
      hostPort: o.hostPort as number,
      containerPort: o.containerPort as number,
      protocol: o.protocol as PortMapping['protocol'],
      ...(o.hostIP ? { hostIP: o.hostIP } : {}),
    };
  });
}
