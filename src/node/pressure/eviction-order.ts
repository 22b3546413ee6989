// Which pod the kubelet's eviction manager evicts first (eviction/helpers.go's rankers): pods
// whose use of the starved resource exceeds their requests before those within them, then the
// lower priority, then the larger use above requests. Without per-pod usage, a pod's QoS class
// stands for "exceeds its requests": a BestEffort pod requests nothing (any use exceeds it), a
// Burstable one may be over its requests, a Guaranteed one never is.
import type * as k8s from '@kubernetes/client-node';

export type QosClass = 'BestEffort' | 'Burstable' | 'Guaranteed';

const RESOURCES = ['cpu', 'memory'];

/** The pod's QoS class, as the API server computes status.qosClass. */
export function qosClass(pod: k8s.V1Pod): QosClass {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    for (const r of RESOURCES) {
      const limit = lim[r];
      const request = req[r] ?? limit;
      if (request !== undefined || limit !== undefined) any = true;
      if (limit === undefined || request === undefined || String(request) !== String(limit))
        guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

const QOS_RANK: Record<QosClass, number> = { BestEffort: 0, Burstable: 1, Guaranteed: 2 };

/** The pods in the order they are evicted: the first goes first. */
export function evictionOrder(pods: k8s.V1Pod[]): k8s.V1Pod[] {
  const qos = (p: k8s.V1Pod) => QOS_RANK[(p.status?.qosClass as QosClass) ?? qosClass(p)];
  return [...pods].sort(
    (a, b) =>
      qos(a) - qos(b) ||
      (a.spec?.priority ?? 0) - (b.spec?.priority ?? 0) ||
      // Among equals, the youngest first: the one that has run the least loses the least.
      new Date(b.metadata?.creationTimestamp ?? 0).getTime() -
        new Date(a.metadata?.creationTimestamp ?? 0).getTime(),
  );
}
