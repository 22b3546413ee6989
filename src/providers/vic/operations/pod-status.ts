// PodStatus: the Kubernetes status of a pod from what the VCH says of its tasks (state, exit
// code, start and finish times, restart count) and what the provider knows that the VCH does not
// (a pull that failed, a restart waiting out its back-off, how the run before a restart ended).
// The phase follows the kubelet's rules for the pod's restartPolicy.
import type * as k8s from '@kubernetes/client-node';
import type { ContainerRecord, VicPod } from '../cache/vic-pod.js';
import type { ProcessConfig, TaskInfo } from '../proxy/isolation-proxy.js';
import { terminationMessageOf } from './termination-message.js';
import { initProgress, isSidecar } from './init-sequence.js';

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

/** `vp`: the pod, whose log tails termination-message.ts read (FallbackToLogsOnError). */
export function terminatedState(task: TaskInfo, vp?: VicPod): k8s.V1ContainerStateTerminated {
  const p = task.processConfig;
  return {
    exitCode: p.exitCode ?? (startFailed(p) ? 128 : 0),
    reason: terminationReason(p),
    message: terminationMessageOf(vp, task) ?? (p.errorMsg || undefined),
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
  /** The waiting reason when nothing else is known; by default the pod's. */
  waitingReason?: string,
): k8s.V1ContainerStatus {
  // With init containers the kubelet's default is PodInitializing (kubectl's Init:N/M).
  const defaultReason =
    waitingReason ??
    (vp.pod.spec?.initContainers?.length ? 'PodInitializing' : 'ContainerCreating');
  const p = task?.processConfig;
  // The previous run as this node saw it end; else as the VCH recorded it (the node restarted
  // since: the kubelet too reads it from the runtime's records).
  const previous = task?.previousProcessConfig;
  const lastState: k8s.V1ContainerState = c.lastTermination
    ? {
        terminated: {
          exitCode: c.lastTermination.exitCode,
          reason: c.lastTermination.reason,
          message: c.lastTermination.message,
          startedAt: c.lastTermination.startedAt,
          finishedAt: c.lastTermination.finishedAt ?? new Date(0),
          containerID: task ? containerIdOf(task.id) : undefined,
        },
      }
    : previous && task
      ? { terminated: terminatedState({ ...task, processConfig: previous }) }
      : {};
  const status: k8s.V1ContainerStatus = {
    name: spec.name,
    image: c.image || (spec.image ?? ''),
    imageID: task?.imageId ?? '',
    containerID: task ? containerIdOf(task.id) : undefined,
    ready: false,
    started: false,
    restartCount: (task?.restartCount ?? 0) + (c.restartsBefore ?? 0),
    lastState,
    state: {},
  };
  if (p?.status === 'running' && c.postStartRunning) {
    // As the kubelet: not Running until its postStart hook has returned.
    status.state = { waiting: { reason: 'ContainerCreating' } };
  } else if (p?.status === 'running') {
    status.state = { running: { startedAt: date(p.startedAt, p.startTime) } };
    // Probes (prober.ts) decide where the container has them; else running is ready.
    status.started = vp.probes?.started(spec.name) ?? true;
    status.ready = vp.stage !== 'deleting' && (vp.probes?.ready(spec.name) ?? true);
  } else if ((p?.status === 'exited' || startFailed(p)) && task) {
    if (c.waiting && vp.stage !== 'deleting') {
      // Exited and waiting out its back-off: the run that ended is its last state.
      status.state = { waiting: { ...c.waiting } };
      status.lastState = { terminated: terminatedState(task, vp) };
    } else status.state = { terminated: terminatedState(task, vp) };
  } else {
    status.state = { waiting: c.waiting ? { ...c.waiting } : { reason: defaultReason } };
  }
  return status;
}

/**
 * The kubelet's phase rules (pkg/kubelet getPhase) over the containers' states; `init` are
 * the init containers' statuses, each with whether it is a sidecar.
 */
export function podPhase(
  restartPolicy: string,
  statuses: k8s.V1ContainerStatus[],
  init: { status: k8s.V1ContainerStatus; sidecar: boolean }[] = [],
): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  let pendingInit = 0;
  let failedInit = 0;
  for (const { status: s, sidecar } of init) {
    const last = s.state?.terminated ?? (s.state?.waiting && s.lastState?.terminated);
    if (sidecar) {
      // A sidecar counts while it runs; one that ended counts for nothing.
      if (s.state?.running) running++;
      else if (!last) pendingInit++;
    } else if (s.state?.running || !last) pendingInit++;
    else if (last.exitCode !== 0) failedInit++;
  }
  if (failedInit > 0 && restartPolicy === 'Never') return 'Failed';
  if (pendingInit > 0) return 'Pending';
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

function condition(
  vp: VicPod,
  type: string,
  ok: boolean,
  now: Date,
  /** The kubelet's reason and message while the condition is False. */
  why?: { reason: string; message: string },
): k8s.V1PodCondition {
  const status = ok ? 'True' : 'False';
  let t = vp.transitions.get(type);
  if (!t || t.status !== status) {
    t = { status, at: t ? now : vp.startTime };
    vp.transitions.set(type, t);
  }
  return { type, status, lastTransitionTime: t.at, ...(!ok && why) };
}

/**
 * The pod's IPs as its status reports them: its endpoints' addresses (none yet: no network);
 * a hostNetwork pod's is the node's, `hostIP`, as the kubelet reports it.
 */
export function podIPsOf(vp: VicPod | undefined, hostIP: string): string[] {
  if (vp?.pod.spec?.hostNetwork) return [hostIP];
  const address = vp?.info?.endpoints?.find((e) => e.address)?.address.split('/')[0];
  return address ? [address] : [];
}

export function podStatus(vp: VicPod, hostIP: string, now = new Date()): k8s.V1PodStatus {
  const spec = vp.pod.spec!;
  const tasks = new Map((vp.info?.tasks ?? []).map((t) => [t.name, t]));
  const statusOf = (c: k8s.V1Container) =>
    containerStatus(vp, c, vp.containers.get(c.name)!, tasks.get(c.name));
  const statuses = spec.containers.map(statusOf);
  const init = (spec.initContainers ?? []).map((c) => ({
    status: initContainerStatus(statusOf(c), isSidecar(c)),
    sidecar: isSidecar(c),
  }));
  // Ephemeral containers (kubectl debug) count for neither the phase nor readiness, as the
  // kubelet's: never ready, waiting as ContainerCreating until joined, never restarted.
  const ephemeral = (spec.ephemeralContainers ?? [])
    .filter((c) => vp.containers.has(c.name))
    .map((c) => {
      const s = containerStatus(
        vp,
        c as k8s.V1Container,
        vp.containers.get(c.name)!,
        tasks.get(c.name),
        'ContainerCreating',
      );
      return { ...s, ready: false, started: !!s.state?.running };
    });
  const phase =
    vp.failure || vp.evicted ? 'Failed' : podPhase(spec.restartPolicy ?? 'Always', statuses, init);
  // Sidecars count towards the pod's readiness as app containers do.
  const readiness = [...init.filter((i) => i.sidecar).map((i) => i.status), ...statuses];
  const unready = readiness.filter((s) => !s.ready).map((s) => s.name);
  const allReady = readiness.length > 0 && unready.length === 0;
  const progress = initProgress(spec, tasks);
  const [address] = podIPsOf(vp, hostIP);
  const notReady = {
    reason: 'ContainersNotReady',
    message: `containers with unready status: [${unready.join(' ')}]`,
  };
  return {
    phase,
    ...(vp.failure && { reason: vp.failure.reason, message: vp.failure.message }),
    ...(vp.evicted && { reason: 'Evicted', message: vp.evicted.message }),
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP: address,
    podIPs: address ? [{ ip: address }] : undefined,
    startTime: vp.startTime,
    conditions: [
      condition(vp, 'PodScheduled', true, now),
      // The sandbox (the pod on the VCH) is there to start containers in.
      condition(vp, 'PodReadyToStartContainers', vp.id !== undefined, now),
      condition(vp, 'Initialized', progress.initialized, now, {
        reason: 'ContainersNotInitialized',
        message: `containers with incomplete status: [${progress.incomplete.join(' ')}]`,
      }),
      condition(vp, 'ContainersReady', allReady, now, notReady),
      condition(vp, 'Ready', allReady, now, notReady),
    ],
    ...(init.length > 0 && { initContainerStatuses: init.map((i) => i.status) }),
    containerStatuses: statuses,
    ...(ephemeral.length > 0 && { ephemeralContainerStatuses: ephemeral }),
  };
}

/**
 * An init container's status: a sidecar's is an app container's; a regular one is ready once
 * it has succeeded (the kubelet's rule), and started only while it runs.
 */
function initContainerStatus(s: k8s.V1ContainerStatus, sidecar: boolean): k8s.V1ContainerStatus {
  if (sidecar) return s;
  return { ...s, ready: s.state?.terminated?.exitCode === 0, started: !!s.state?.running };
}
