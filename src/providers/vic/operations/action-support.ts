// The one place that decides which probe and hook handlers this node runs. exec and sleep need
// only the container; httpGet, tcpSocket and grpc connect to the pod's IP from the node, as the
// kubelet does, so they are run where the pod has one (a VCH with a bridge network: runc
// sandboxes and pod VMs alike) and refused where the VCH has none (--bridge-network none:
// podNetworkNeed names the field).
import type * as k8s from '@kubernetes/client-node';
import type { Allowed } from './field-rules.js';

export const LIFECYCLE_REFUSED =
  'tcpSocket is not a lifecycle handler (as on any kubelet); use exec, sleep or httpGet';

/** Lifecycle hooks this node runs. */
export const runnableLifecycle: Allowed = {
  values: 'exec, sleep and httpGet hooks',
  allows: (v) => {
    const l = v as k8s.V1Lifecycle;
    return [l.postStart, l.preStop].every((h) => !h?.tcpSocket);
  },
};

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

/**
 * The first field of the pod that connects to the pod's IP (an httpGet or tcpSocket probe
 * without a host of its own, a grpc probe, an httpGet hook without a host), as `spec.containers["web"].readinessProbe.httpGet`;
 * undefined when it has none.
 */
export function podNetworkNeed(pod: k8s.V1Pod): string | undefined {
  const spec = pod.spec;
  // A hostNetwork pod's IP is the node's: there whatever the VCH's network.
  if (spec?.hostNetwork) return undefined;
  const lists = [
    ['initContainers', spec?.initContainers ?? []],
    ['containers', spec?.containers ?? []],
  ] as const;
  for (const [list, containers] of lists)
    for (const c of containers) {
      const at = `spec.${list}[${JSON.stringify(c.name)}]`;
      for (const p of PROBES) {
        const probe = c[p];
        if (probe?.httpGet && !probe.httpGet.host) return `${at}.${p}.httpGet`;
        if (probe?.tcpSocket && !probe.tcpSocket.host) return `${at}.${p}.tcpSocket`;
        if (probe?.grpc) return `${at}.${p}.grpc`;
      }
      for (const h of ['postStart', 'preStop'] as const) {
        const g = c.lifecycle?.[h]?.httpGet;
        if (g && !g.host) return `${at}.lifecycle.${h}.httpGet`;
      }
    }
  return undefined;
}

/** Why a pod that needs its IP cannot run on a VCH without a pod network. */
export function noPodNetwork(field: string): string {
  return `${field}: connects to the pod's IP, and this node's VCH gives pods none (it runs with --bridge-network none); use an exec probe or hook, or a VCH with a bridge network`;
}
