// spec.activeDeadlineSeconds as the kubelet enforces it: counted from status.startTime (when the
// node took the pod on); once past, the pod fails with reason DeadlineExceeded and its
// containers are stopped (within the pod's grace period) and never started again.
import type { VicPod } from '../cache/vic-pod.js';

export const DEADLINE_REASON = 'DeadlineExceeded';
/** The kubelet's words, in the pod status and in the Event. */
export const DEADLINE_MESSAGE = 'Pod was active on the node longer than the specified deadline';

/** When the pod's deadline falls (epoch ms), or undefined when it has none. */
export function deadlineAt(vp: VicPod): number | undefined {
  const sec = vp.pod.spec?.activeDeadlineSeconds;
  if (sec === undefined || sec === null) return undefined;
  return vp.startTime.getTime() + sec * 1000;
}

/** Whether the deadline has passed at `now`; records the failure on the pod when it has. */
export function deadlinePassed(vp: VicPod, now: number): boolean {
  if (vp.failure?.reason === DEADLINE_REASON) return true;
  const at = deadlineAt(vp);
  if (at === undefined || now < at) return false;
  vp.failure = { reason: DEADLINE_REASON, message: DEADLINE_MESSAGE };
  return true;
}
