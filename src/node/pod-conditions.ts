// The pod conditions as the kubelet's status manager writes them: the node owns a few condition
// types and leaves every other one (a readiness gate's, set by a load balancer controller; a
// DisruptionTarget, set by the control plane) as the API has it; and the pod is Ready only when
// its containers are and every readiness gate's condition is True.
import type * as k8s from '@kubernetes/client-node';

/** The condition types the kubelet owns (kubetypes.PodConditionByKubelet). */
const NODE_OWNED = new Set([
  'PodScheduled',
  'PodReadyToStartContainers',
  'Initialized',
  'ContainersReady',
  'Ready',
]);

/**
 * `reported` (the provider's status) with the API's conditions of other owners kept beside
 * the node's, and Ready held False while a readiness gate is not True.
 */
export function withPodConditions(reported: k8s.V1PodStatus, pod: k8s.V1Pod): k8s.V1PodStatus {
  if (!reported.conditions) return reported;
  const current = pod.status?.conditions ?? [];
  const others = current.filter((c) => !NODE_OWNED.has(c.type));
  const gates = pod.spec?.readinessGates ?? [];
  const conditions = reported.conditions.map((c) =>
    c.type === 'Ready' && gates.length > 0 ? gatedReady(c, gates, current) : c,
  );
  return { ...reported, conditions: [...conditions, ...others] };
}

/**
 * Ready with the readiness gates applied, in the kubelet's words. Its transition time is the
 * API's while the status stays, and now when the gates change it: the provider's own time
 * does not know of the gates.
 */
function gatedReady(
  ready: k8s.V1PodCondition,
  gates: k8s.V1PodReadinessGate[],
  current: k8s.V1PodCondition[],
): k8s.V1PodCondition {
  let gated = ready;
  if (ready.status === 'True') {
    const unready = gates.flatMap((g) => {
      const c = current.find((x) => x.type === g.conditionType);
      if (!c)
        return [
          `corresponding condition of pod readiness gate "${g.conditionType}" does not exist.`,
        ];
      if (c.status !== 'True')
        return [
          `the status of pod readiness gate "${g.conditionType}" is not "True", but ${c.status}`,
        ];
      return [];
    });
    if (unready.length > 0)
      gated = {
        type: 'Ready',
        status: 'False',
        reason: 'ReadinessGatesNotReady',
        message: unready.join(', '),
        lastTransitionTime: ready.lastTransitionTime,
      };
  }
  const before = current.find((c) => c.type === 'Ready');
  if (!before) return gated;
  const lastTransitionTime =
    before.status === gated.status ? before.lastTransitionTime : new Date();
  return { ...gated, lastTransitionTime };
}
