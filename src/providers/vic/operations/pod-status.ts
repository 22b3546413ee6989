// PodStatus: the Kubernetes status of a pod from what the VCH says of its tasks (state, exit
// code, start and finish times, restart count) and what the provider knows that the VCH does not
// (a pull that failed, a restart waiting out its back-off, how the run before a restart ended).
// The phase follows the kubelet's rules for the pod's restartPolicy.
import type * as k8s from '@kubernetes/client-node';
import type { ContainerRecord, VicPod } from '../cache/vic-pod.js';
import type { ProcessConfig, TaskInfo } from '../proxy/isolation-proxy.js';

export const containerIdOf = (taskId: string) => `vic://${taskId}`;

const date = (rfc3339?: string, unixSec?: number): Date | undefined =>
  rfc3339 ? new Date(rfc3339) : unixSec ? new Date(unixSec * 1000) : undefined;

/** Whether the task's last start failed (it never ran: exec failed, no such user, …). */
export const startFailed = (p: ProcessConfig | undefined) =>
  p?.status === 'created' && !!p.errorMsg;

/** Kubernetes' reason for a run that ended with `p`. */
export function terminationReason(p: ProcessConfig): string {
  if (startFailed(p)) return 'StartError';
  if (p.reason === 'OOMKilled') return 'OOMKilled';
  if (p.reason === 'Lost') return 'ContainerStatusUnknown';
  return (p.exitCode ?? 0) === 0 ? 'Completed' : 'Error';
}

export function terminatedState(task: TaskInfo): k8s.V1ContainerStateTerminated {
  const p = task.processConfig;
  return {
    exitCode: p.exitCode ?? (startFailed(p) ? 128 : 0),
    reason: terminationReason(p),
    message: p.errorMsg || undefined,
    startedAt: date(p.startedAt, p.startTime),
    finishedAt: date(p.finishedAt, p.stopTime) ?? new Date(0),
    containerID: containerIdOf(task.id),
  };
}

function containerStatus(
  vp: VicPod,
  spec: k8s.V1Container,
  c: ContainerRecord,
  task: TaskInfo | undefined,
): k8s.V1ContainerStatus {
  const p = task?.processConfig;
  const lastState: k8s.V1ContainerState = c.lastTermination
    ? {
        terminated: {
          exitCode: c.lastTermination.exitCode,
          reason: c.lastTermination.reason,
          startedAt: c.lastTermination.startedAt,
          finishedAt: c.lastTermination.finishedAt ?? new Date(0),
          containerID: task ? containerIdOf(task.id) : undefined,
        },
      }
    : {};
  const status: k8s.V1ContainerStatus = {
    name: spec.name,
    image: c.image || (spec.image ?? ''),
    imageID: task?.imageId ?? '',
    containerID: task ? containerIdOf(task.id) : undefined,
    ready: false,
    started: false,
    restartCount: task?.restartCount ?? 0,
    lastState,
    state: {},
  };
  if (p?.status === 'running') {
    status.state = { running: { startedAt: date(p.startedAt, p.startTime) } };
    status.ready = vp.stage !== 'deleting';
    status.started = true;
  } else if ((p?.status === 'exited' || startFailed(p)) && task) {
    if (c.waiting && vp.stage !== 'deleting') {
      // Exited and waiting out its back-off: the run that ended is its last state.
      status.state = { waiting: { ...c.waiting } };
      status.lastState = { terminated: terminatedState(task) };
    } else status.state = { terminated: terminatedState(task) };
  } else {
    status.state = { waiting: c.waiting ? { ...c.waiting } : { reason: 'ContainerCreating' } };
  }
  return status;
}

/** The kubelet's phase rules (pkg/kubelet getPhase) over the containers' states. */
export function podPhase(
  restartPolicy: string,
  statuses: k8s.V1ContainerStatus[],
): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of statuses) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.lastState?.terminated)
      running++; // restarting
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(vp: VicPod, type: string, ok: boolean, now: Date): k8s.V1PodCondition {
  const status = ok ? 'True' : 'False';
  let t = vp.transitions.get(type);
  if (!t || t.status !== status) {
    t = { status, at: t ? now : vp.startTime };
    vp.transitions.set(type, t);
  }
  return { type, status, lastTransitionTime: t.at };
}

/** The pod's IPs as its status reports them: its endpoints' addresses (none yet: no network). */
export function podIPsOf(vp: VicPod | undefined): string[] {
  const address = vp?.info?.endpoints?.find((e) => e.address)?.address.split('/')[0];
  return address ? [address] : [];
}

export function podStatus(vp: VicPod, hostIP: string, now = new Date()): k8s.V1PodStatus {
  const spec = vp.pod.spec!;
  const tasks = new Map((vp.info?.tasks ?? []).map((t) => [t.name, t]));
  const statuses = spec.containers.map((c) =>
    containerStatus(vp, c, vp.containers.get(c.name)!, tasks.get(c.name)),
  );
  const phase = vp.evicted ? 'Failed' : podPhase(spec.restartPolicy ?? 'Always', statuses);
  const allReady = statuses.length > 0 && statuses.every((s) => s.ready);
  const [address] = podIPsOf(vp);
  return {
    phase,
    ...(vp.evicted && { reason: 'Evicted', message: vp.evicted.message }),
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP: address,
    podIPs: address ? [{ ip: address }] : undefined,
    startTime: vp.startTime,
    conditions: [
      condition(vp, 'PodScheduled', true, now),
      condition(vp, 'Initialized', true, now),
      condition(vp, 'ContainersReady', allReady, now),
      condition(vp, 'Ready', allReady, now),
    ],
    containerStatuses: statuses,
  };
}
