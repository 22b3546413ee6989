// PodCache: the pods this provider runs, by namespace/name, with their VCH ids. The VCH is the
// source of truth: `rehydrate` rebuilds the cache from its containers' annotations, so a
// restarted vic-kubelet knows every pod it ran and leaves them running.
import type * as k8s from '@kubernetes/client-node';
import { NodeError } from '../../../node/errors.js';
import { backoffAfter } from '../operations/restart-policy.js';
import type { ContainerInfo, IsolationProxy } from '../proxy/isolation-proxy.js';
import {
  ANNOTATION_NAME,
  ANNOTATION_NAMESPACE,
  ANNOTATION_POD,
  ANNOTATION_UID,
  newVicPod,
  podKey,
  type VicPod,
} from './vic-pod.js';

export class PodCache {
  private readonly pods = new Map<string, VicPod>();

  get(namespace: string, name: string): VicPod | undefined {
    return this.pods.get(podKey(namespace, name));
  }

  getAll(): VicPod[] {
    return [...this.pods.values()];
  }

  /** Adds a pod; Conflict if one of that name is cached already. */
  add(vp: VicPod): void {
    const { namespace, name } = vp.pod.metadata ?? {};
    if (!name || !namespace)
      throw new NodeError('InvalidInput', 'a pod needs a namespace and a name');
    const key = podKey(namespace, name);
    if (this.pods.has(key)) throw new NodeError('Conflict', `pod ${key} is cached already`);
    this.pods.set(key, vp);
  }

  /** Forgets a pod (only this very record, so a newer one of the same name stays). */
  delete(vp: VicPod): void {
    const key = podKey(vp.pod.metadata!.namespace!, vp.pod.metadata!.name!);
    if (this.pods.get(key) === vp) this.pods.delete(key);
  }

  /**
   * Rebuilds the cache from the VCH's containers. Containers without our annotations (made
   * through the persona by docker) are not pods and are left alone. Returns the pods found.
   */
  async rehydrate(proxy: IsolationProxy): Promise<VicPod[]> {
    const found: VicPod[] = [];
    for (const info of await proxy.list(true)) {
      const vp = vicPodFromInfo(info);
      if (!vp) continue;
      const key = podKey(vp.pod.metadata!.namespace!, vp.pod.metadata!.name!);
      if (this.pods.has(key)) continue;
      this.pods.set(key, vp);
      found.push(vp);
    }
    return found;
  }
}

/** The cache record of a VCH container made by this provider, or undefined. */
export function vicPodFromInfo(info: ContainerInfo): VicPod | undefined {
  const a = info.containerConfig?.annotations ?? {};
  const id = info.containerConfig?.containerId;
  if (!id || !a[ANNOTATION_POD] || !a[ANNOTATION_NAME] || !a[ANNOTATION_NAMESPACE])
    return undefined;
  let pod: k8s.V1Pod;
  try {
    pod = JSON.parse(a[ANNOTATION_POD]) as k8s.V1Pod;
  } catch {
    return undefined;
  }
  pod.metadata = {
    ...pod.metadata,
    name: a[ANNOTATION_NAME],
    namespace: a[ANNOTATION_NAMESPACE],
    uid: a[ANNOTATION_UID] ?? pod.metadata?.uid,
  };
  const created = info.containerConfig?.createTime;
  const vp = newVicPod(pod, created ? new Date(created * 1000) : new Date());
  vp.id = id;
  vp.stage = 'created';
  vp.info = info;
  for (const task of info.tasks ?? []) {
    const c = vp.containers.get(task.name);
    if (!c) continue;
    c.taskId = task.id;
    // The back-off goes on where the restarts it counts left it (restart-policy.ts).
    c.backoffMs = backoffAfter(task.restartCount ?? 0);
  }
  return vp;
}
