// The kubelet's Events on its Node when a condition changes (kubelet_node_status.go's setters):
// Ready → NodeReady / NodeNotReady; MemoryPressure, DiskPressure, PIDPressure → NodeHas… .
// The first status after start counts as a change, as the kubelet's first sync does.
import type * as k8s from '@kubernetes/client-node';
import type { EventType, NodeEventReason } from './events.js';

export interface NodeEvent {
  type: EventType;
  reason: NodeEventReason;
  message: string;
}

/** The reason for each condition type, when True and when not. */
const REASONS: Record<string, [whenTrue: NodeEventReason, otherwise: NodeEventReason]> = {
  Ready: ['NodeReady', 'NodeNotReady'],
  MemoryPressure: ['NodeHasInsufficientMemory', 'NodeHasSufficientMemory'],
  DiskPressure: ['NodeHasDiskPressure', 'NodeHasNoDiskPressure'],
  PIDPressure: ['NodeHasInsufficientPID', 'NodeHasSufficientPID'],
};

export function conditionEvents(
  node: string,
  previous: k8s.V1NodeCondition[] | undefined,
  next: k8s.V1NodeCondition[],
): NodeEvent[] {
  const out: NodeEvent[] = [];
  for (const c of next) {
    const reasons = REASONS[c.type];
    if (!reasons) continue;
    const old = previous?.find((p) => p.type === c.type);
    if (old && old.status === c.status) continue;
    const reason = c.status === 'True' ? reasons[0] : reasons[1];
    const warn = c.type === 'Ready' ? c.status !== 'True' : c.status === 'True';
    out.push({
      type: warn && c.type !== 'Ready' ? 'Warning' : 'Normal',
      reason,
      message: `Node ${node} status is now: ${reason}`,
    });
  }
  return out;
}
