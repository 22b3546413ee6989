// An evicted pod stays evicted across a restart of the node, as on a kubelet: the VCH keeps the
// pod (stopped, its containers' logs readable) but not why the node stopped it, and a kubelet
// takes a pod's terminal phase from the API server, never starting a pod it holds Failed again.
// So when the cache is rebuilt, a pod none of whose containers runs is looked up in the API:
// Failed with reason Evicted there (the same pod, by uid), it is evicted here too, with the
// message the API holds, and its monitor is not started (its containers would be restarted).
import type * as k8s from '@kubernetes/client-node';
import * as kube from '@kubernetes/client-node';
import { makeKeepAliveClient } from '../../node/kube-clients.js';
import { isApiNotFound } from '../../node/kube.js';
import { errorMessage } from '../../node/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { VicPod } from './cache/vic-pod.js';

/** The API's pod (undefined when there is none). */
export type ApiPodReader = (namespace: string, name: string) => Promise<k8s.V1Pod | undefined>;

/** Reads pods with the node's credentials (the Node authorizer lets it read its own). */
export function kubePodReader(kubeConfig: k8s.KubeConfig): ApiPodReader {
  const core = makeKeepAliveClient(kubeConfig, kube.CoreV1Api);
  return (namespace, name) =>
    core.readNamespacedPod({ name, namespace }).catch((err: unknown) => {
      if (isApiNotFound(err)) return undefined;
      throw err;
    });
}

/** Marks `vp` evicted when the API holds it Failed as Evicted (see the file's head). */
export async function restoreEvicted(vp: VicPod, read: ApiPodReader, log: Logger): Promise<void> {
  if ((vp.info?.tasks ?? []).some((t) => t.processConfig.status === 'running')) return;
  const m = vp.pod.metadata!;
  let api: k8s.V1Pod | undefined;
  try {
    api = await read(m.namespace!, m.name!);
  } catch (err) {
    // The API down: the pod is taken as the VCH has it (its restartPolicy applies).
    log.warn({ pod: `${m.namespace}/${m.name}`, err: errorMessage(err) }, 'pod not looked up');
    return;
  }
  if (!api || api.metadata?.uid !== m.uid) return;
  const s = api.status;
  if (s?.phase === 'Failed' && s.reason === 'Evicted') vp.evicted = { message: s.message ?? '' };
}
