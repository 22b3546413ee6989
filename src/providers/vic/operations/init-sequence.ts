// The order a pod's containers run in, as the kubelet runs them: init containers one after the
// other, each to completion (exit 0) before the next; a native sidecar (an init container with
// restartPolicy Always) only has to have started before the next one starts, then keeps running
// beside the app containers; the app containers start once every init container is done.
// Pure functions over the pod's spec and the VCH's task states, so the same answers come back
// after vic-kubelet restarts (nothing here is remembered, everything is read off the tasks).
import type * as k8s from '@kubernetes/client-node';
import type { TaskInfo } from '../proxy/isolation-proxy.js';
import { shouldRestart } from './restart-policy.js';

export type Role = 'init' | 'sidecar' | 'app' | 'ephemeral';

/** An init container that keeps running beside the app containers. */
export const isSidecar = (c: k8s.V1Container) => c.restartPolicy === 'Always';

/** Every container of the pod in the order they are joined and started: init, then app. */
export function allContainers(spec: k8s.V1PodSpec | undefined): k8s.V1Container[] {
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

export function roleOf(spec: k8s.V1PodSpec | undefined, name: string): Role {
  const init = spec?.initContainers?.find((c) => c.name === name);
  if (!init) return spec?.ephemeralContainers?.some((c) => c.name === name) ? 'ephemeral' : 'app';
  return isSidecar(init) ? 'sidecar' : 'init';
}

/** Tasks by container name. */
export type Tasks = Map<string, TaskInfo>;

const status = (t: TaskInfo | undefined) => t?.processConfig.status;
/** It has run at least once (a start that failed leaves it 'created' with an error). */
const hasStarted = (t: TaskInfo | undefined) =>
  !!t && (status(t) === 'running' || status(t) === 'exited' || t.restartCount > 0);
const succeeded = (t: TaskInfo | undefined) =>
  status(t) === 'exited' && (t!.processConfig.exitCode ?? 0) === 0;
/** The run of a task ended, or its start failed: either way it is not running. */
export const ended = (t: TaskInfo | undefined) =>
  status(t) === 'exited' || (status(t) === 'created' && !!t?.processConfig.errorMsg);

/** Whether an init container no longer holds the ones after it back. */
function initDone(c: k8s.V1Container, t: TaskInfo | undefined): boolean {
  return isSidecar(c) ? hasStarted(t) : succeeded(t);
}

export interface InitProgress {
  /** Every init container is done (and stays so once an app container has run). */
  initialized: boolean;
  /** The init containers not done yet, for the Initialized condition's message. */
  incomplete: string[];
  /** A regular init container failed under restartPolicy Never: the pod has failed. */
  failed: boolean;
}

export function initProgress(spec: k8s.V1PodSpec | undefined, tasks: Tasks): InitProgress {
  const inits = spec?.initContainers ?? [];
  // The kubelet never runs init containers again once the app containers have started.
  const appRan = (spec?.containers ?? []).some((c) => hasStarted(tasks.get(c.name)));
  const incomplete = appRan
    ? []
    : inits.filter((c) => !initDone(c, tasks.get(c.name))).map((c) => c.name);
  const failed =
    !appRan &&
    spec?.restartPolicy === 'Never' &&
    inits.some((c) => !isSidecar(c) && ended(tasks.get(c.name)) && !succeeded(tasks.get(c.name)));
  return { initialized: incomplete.length === 0, incomplete, failed };
}

/** Whether the container's task, committed and not started yet, may start now. */
export function mayStart(spec: k8s.V1PodSpec | undefined, name: string, tasks: Tasks): boolean {
  // As the kubelet: an ephemeral container starts even while the pod is initializing.
  if (roleOf(spec, name) === 'ephemeral') return true;
  const inits = spec?.initContainers ?? [];
  const at = inits.findIndex((c) => c.name === name);
  const before = at < 0 ? inits : inits.slice(0, at);
  if (at < 0 && initProgress(spec, tasks).initialized) return true;
  return before.every((c) => initDone(c, tasks.get(c.name)));
}

/**
 * Whether the pod has finished for good: init failed under Never, or every app container has
 * ended and its restartPolicy starts none again. Sidecars are then stopped, not restarted.
 */
export function podFinished(spec: k8s.V1PodSpec | undefined, tasks: Tasks): boolean {
  const progress = initProgress(spec, tasks);
  if (progress.failed) return true;
  if (!progress.initialized) return false;
  return (spec?.containers ?? []).every((c) => {
    const t = tasks.get(c.name);
    return ended(t) && !shouldRestart(spec?.restartPolicy, t!.processConfig.exitCode ?? 0);
  });
}

/** Whether a container whose run ended with `exitCode` is started again. */
export function restartsAfter(
  spec: k8s.V1PodSpec | undefined,
  name: string,
  exitCode: number,
  tasks: Tasks,
): boolean {
  if (podFinished(spec, tasks)) return false;
  switch (roleOf(spec, name)) {
    case 'sidecar':
      return true; // whatever the pod's restartPolicy
    case 'ephemeral':
      return false; // never, whatever the pod's restartPolicy (kubectl debug's containers)
    case 'init':
      // Done once it succeeded; a failure is retried unless the pod's policy is Never.
      return (
        exitCode !== 0 && spec?.restartPolicy !== 'Never' && !initProgress(spec, tasks).initialized
      );
    default:
      return shouldRestart(spec?.restartPolicy, exitCode);
  }
}

/**
 * The order a pod's running containers are stopped in: the app containers together first
 * (and any init container still running), then each sidecar in the reverse of its start order.
 */
export function stopOrder(spec: k8s.V1PodSpec | undefined): string[][] {
  const sidecars = (spec?.initContainers ?? []).filter(isSidecar).map((c) => c.name);
  const first = allContainers(spec)
    .map((c) => c.name)
    .filter((n) => !sidecars.includes(n));
  return [first, ...sidecars.reverse().map((n) => [n])];
}
