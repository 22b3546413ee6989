// The kubelet's pressure conditions on its Node, from the thresholds met now (its setters'
// reasons and messages). The node lifecycle controller taints a node under pressure
// (node.kubernetes.io/disk-pressure and the like), as it does for a kubelet's.
import type * as k8s from '@kubernetes/client-node';
import { PRESSURE, type Threshold } from './thresholds.js';

const TEXT: Record<string, [ok: [string, string], under: [string, string]]> = {
  MemoryPressure: [
    ['KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
    ['KubeletHasInsufficientMemory', 'kubelet has insufficient memory available'],
  ],
  DiskPressure: [
    ['KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
    ['KubeletHasDiskPressure', 'kubelet has disk pressure'],
  ],
  PIDPressure: [
    ['KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
    ['KubeletHasInsufficientPID', 'kubelet has insufficient PID available'],
  ],
};

export function pressureConditions(met: Threshold[]): k8s.V1NodeCondition[] {
  const under = new Set(met.map((t) => PRESSURE[t.signal].condition));
  return Object.entries(TEXT).map(([type, [ok, bad]]) => {
    const [reason, message] = under.has(type) ? bad : ok;
    return { type, status: under.has(type) ? 'True' : 'False', reason, message };
  });
}

/** The kubelet's eviction message: which resource the node was low on. */
export function evictionMessage(met: Threshold[]): string {
  const resources = [...new Set(met.map((t) => PRESSURE[t.signal].resource))];
  return `The node was low on resource: ${resources.join(', ')}. `;
}
