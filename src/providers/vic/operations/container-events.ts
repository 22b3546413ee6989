// The kubelet's Events about a container's run, worded as the kubelet words them (k8s.io/
// kubernetes pkg/kubelet: images/image_manager.go, kuberuntime/kuberuntime_container.go and
// kuberuntime_manager.go), each on its container (the Event's fieldPath names it). One place
// for the texts, so every caller says the same thing.
import type * as k8s from '@kubernetes/client-node';
import type { PodEvent } from '../../../node/provider.js';

/** The kubelet's rendering of a pod in messages: name_namespace(uid). */
export const podLabel = (pod: k8s.V1Pod) =>
  `${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid})`;

/** Go's time.Duration printing of a span in ms, as the Pulled message shows it (1.234s). */
export function goDuration(ms: number): string {
  // Whole nanoseconds, as Go keeps them; trailing zeros dropped.
  const ns = Math.round(ms * 1e6);
  if (ns < 1000) return `${ns}ns`;
  if (ns < 1e6) return `${+(ns / 1e3).toFixed(3)}µs`;
  if (ns < 1e9) return `${+(ns / 1e6).toFixed(6)}ms`;
  const s = ns / 1e9;
  if (s < 60) return `${+s.toFixed(9)}s`;
  const m = Math.floor(s / 60);
  const rest = +(s - m * 60).toFixed(9);
  if (m < 60) return `${m}m${rest}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${rest}s`;
}

export const containerEvents = {
  pulling: (container: string, image: string): PodEvent => ({
    type: 'Normal',
    reason: 'Pulling',
    message: `Pulling image ${JSON.stringify(image)}`,
    container,
  }),
  pulled: (
    container: string,
    image: string,
    pullMs: number,
    withWaitingMs: number,
    size: number | undefined,
  ): PodEvent => ({
    type: 'Normal',
    reason: 'Pulled',
    message:
      `Successfully pulled image ${JSON.stringify(image)} in ${goDuration(pullMs)} ` +
      `(${goDuration(withWaitingMs)} including waiting).` +
      (size !== undefined ? ` Image size: ${size} bytes.` : ''),
    container,
  }),
  present: (container: string, image: string): PodEvent => ({
    type: 'Normal',
    reason: 'Pulled',
    message: `Container image ${JSON.stringify(image)} already present on machine and can be accessed by the pod`,
    container,
  }),
  neverPull: (container: string, image: string): PodEvent => ({
    type: 'Warning',
    reason: 'ErrImageNeverPull',
    message: `Container image ${JSON.stringify(image)} is not present with pull policy of Never`,
    container,
  }),
  pullFailed: (container: string, image: string, error: string): PodEvent => ({
    type: 'Warning',
    reason: 'Failed',
    message: `Failed to pull image ${JSON.stringify(image)}: ${error}`,
    container,
  }),
  pullBackOff: (container: string, image: string): PodEvent => ({
    type: 'Normal',
    reason: 'BackOff',
    message: `Back-off pulling image ${JSON.stringify(image)}`,
    container,
  }),
  /** The kubelet's `Error: <reason or message>` that follows a failure. */
  error: (container: string, what: string): PodEvent => ({
    type: 'Warning',
    reason: 'Failed',
    message: `Error: ${what}`,
    container,
  }),
  created: (container: string): PodEvent => ({
    type: 'Normal',
    reason: 'Created',
    message: `Created container: ${container}`,
    container,
  }),
  started: (container: string): PodEvent => ({
    type: 'Normal',
    reason: 'Started',
    message: `Started container ${container}`,
    container,
  }),
  killing: (container: string, message = `Stopping container ${container}`): PodEvent => ({
    type: 'Normal',
    reason: 'Killing',
    message,
    container,
  }),
  backOff: (pod: k8s.V1Pod, container: string): PodEvent => ({
    type: 'Warning',
    reason: 'BackOff',
    message: `Back-off restarting failed container ${container} in pod ${podLabel(pod)}`,
    container,
  }),
};
