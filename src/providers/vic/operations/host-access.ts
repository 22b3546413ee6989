// What a pod may ask of the node's own kernel: privileged containers and the node's network,
// PID and IPC namespaces. Like the kubelet's --allow-privileged (and the host namespace
// sources it once had), the node runs them only when started with --allow-privileged /
// --allow-host-namespaces; otherwise the pod is refused with the flag to set. They are runc's:
// a pod VM has a kernel of its own, so nothing of the host's to share.
import type * as k8s from '@kubernetes/client-node';
import type { Allowed } from './field-rules.js';

/** What the node was started to allow. */
export interface HostAccessPolicy {
  /** --allow-privileged: securityContext.privileged true is run (runc). */
  allowPrivileged?: boolean;
  /** --allow-host-namespaces: hostNetwork, hostPID, hostIPC are run (runc). */
  allowHostNamespaces?: boolean;
}

export const PRIVILEGED_REFUSED =
  'privileged containers run only on a node started with --allow-privileged (and on runc, not in a pod VM); remove privileged or start the node with the flag';

export const hostNamespaceRefused = (ns: string) =>
  `a pod shares the node's ${ns} namespace only on a node started with --allow-host-namespaces (and on runc, not in a pod VM); remove the field or start the node with the flag`;

/** privileged: true only where the node allows it. */
export const allowedPrivileged: Allowed = {
  values: 'false; true on a node started with --allow-privileged',
  allows: (v, ctx) => v === false || (v === true && ctx.node?.allowPrivileged === true),
};

/** hostNetwork, hostPID, hostIPC: true only where the node allows it. */
export const allowedHostNamespace: Allowed = {
  values: 'false; true on a node started with --allow-host-namespaces',
  allows: (v, ctx) => v === false || (v === true && ctx.node?.allowHostNamespaces === true),
};

/**
 * The first field of the pod that asks for the host's kernel (privileged, hostNetwork,
 * hostPID, hostIPC), as `spec.hostNetwork`; undefined when none does. A pod VM refuses it.
 */
export function hostAccessNeed(pod: k8s.V1Pod): string | undefined {
  const spec = pod.spec;
  for (const f of ['hostNetwork', 'hostPID', 'hostIPC'] as const) if (spec?.[f]) return `spec.${f}`;
  const lists = [
    ['initContainers', spec?.initContainers ?? []],
    ['containers', spec?.containers ?? []],
  ] as const;
  for (const [list, containers] of lists)
    for (const c of containers)
      if (c.securityContext?.privileged)
        return `spec.${list}[${JSON.stringify(c.name)}].securityContext.privileged`;
  return undefined;
}

/** Why such a pod cannot run in a pod VM. */
export function notInPodVm(field: string): string {
  return `${field}: a pod VM has a kernel of its own, so it cannot share the node's namespaces or run a privileged container; run the pod on runc (annotation vic-kubelet.io/runtime: runc)`;
}
