// A pod's hostPorts, as the kubelet takes them: each container port with a hostPort is
// published on the node's addresses (hostIP: one of them) through the VCH's portmap, TCP by
// default. Admission, as the kubelet's: a hostPort another pod on this node already holds (same
// port, protocol and an overlapping address) refuses the pod in one line, naming both.
import type * as k8s from '@kubernetes/client-node';
import type { PortMapping } from '../../../api/portlayer/index.js';
import { NodeError } from '../../../node/errors.js';

interface HostPort extends PortMapping {
  /** Where the pod asks for it, for the message. */
  field: string;
}

function hostPortsOf(pod: k8s.V1Pod): HostPort[] {
  const spec = pod.spec;
  const out: HostPort[] = [];
  for (const [list, containers] of [
    ['initContainers', spec?.initContainers ?? []],
    ['containers', spec?.containers ?? []],
  ] as const)
    for (const c of containers)
      (c.ports ?? []).forEach((p, i) => {
        if (!p.hostPort) return;
        out.push({
          field: `spec.${list}[${JSON.stringify(c.name)}].ports[${i}]`,
          hostPort: p.hostPort,
          containerPort: p.containerPort,
          protocol: (p.protocol ?? 'TCP').toLowerCase() as PortMapping['protocol'],
          ...(p.hostIP && p.hostIP !== '0.0.0.0' && { hostIP: p.hostIP }),
        });
      });
  return out;
}

/** The pod's hostPorts for the VCH (ContainerCreateConfig.ports). */
export function podHostPorts(pod: k8s.V1Pod): PortMapping[] {
  return hostPortsOf(pod).map(({ field: _field, ...p }) => p);
}

const clash = (a: PortMapping, b: PortMapping) =>
  a.hostPort === b.hostPort &&
  a.protocol === b.protocol &&
  (!a.hostIP || !b.hostIP || a.hostIP === b.hostIP);

/**
 * InvalidInput when one of the pod's hostPorts (or the container port it goes to, or its
 * protocol) is out of range, or another pod here holds it. hostPort 0 is no hostPort, as the
 * Kubernetes API has it.
 */
export function admitHostPorts(pod: k8s.V1Pod, others: k8s.V1Pod[]): void {
  const mine = hostPortsOf(pod);
  if (mine.length === 0) return;
  for (const p of mine) {
    for (const [what, v] of [
      ['hostPort', p.hostPort],
      ['containerPort', p.containerPort],
    ] as const)
      if (!Number.isInteger(v) || v < 1 || v > 65535)
        throw new NodeError('InvalidInput', `${p.field}.${what} ${v}: want 1 to 65535`);
    if (!['tcp', 'udp', 'sctp'].includes(p.protocol))
      throw new NodeError(
        'InvalidInput',
        `${p.field}.protocol ${JSON.stringify(p.protocol.toUpperCase())}: want TCP, UDP or SCTP`,
      );
    const other = others.find((o) => hostPortsOf(o).some((q) => clash(p, q)));
    if (other)
      throw new NodeError(
        'InvalidInput',
        `${p.field}.hostPort: ${p.hostIP ?? '0.0.0.0'}:${p.hostPort}/${p.protocol} is already taken on this node by pod ${other.metadata?.namespace}/${other.metadata?.name}`,
      );
  }
}
