// The node status as the kubelet writes it: a strategic-merge patch of status, never a
// replace, so that what others put there is kept — an extended resource an operator advertises
// in status.capacity stays, and (as the kubelet's setter does) shows in allocatable too.
import type * as k8s from '@kubernetes/client-node';

/** The patch body for `desired`, given the Node as last seen (`current`). */
export function nodeStatusPatch(
  desired: k8s.V1NodeStatus,
  current: k8s.V1Node | undefined,
): { status: k8s.V1NodeStatus } {
  const capacity = desired.capacity ?? {};
  const allocatable = { ...(desired.allocatable ?? capacity) };
  const theirs = current?.status?.capacity ?? {};
  for (const [name, quantity] of Object.entries(theirs)) {
    if (name in capacity || name in allocatable) continue;
    allocatable[name] = current?.status?.allocatable?.[name] ?? quantity;
  }
  return { status: { ...desired, allocatable } };
}
