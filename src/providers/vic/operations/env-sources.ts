// Where a container's environment comes from beyond its spec: the ConfigMaps and Secrets it
// names, and the Services of its namespace. The node reads them as a kubelet may under the Node
// authorizer: each ConfigMap and Secret by name, only those its pods reference (never a list
// across the cluster or a namespace), and Services as the kubelet's own informer does (list in
// the pod's namespace, the `kubernetes` Service of `default` by name).
import * as k8s from '@kubernetes/client-node';
import { makeKeepAliveClient } from '../../../node/kube-clients.js';

export interface EnvSources {
  /** The ConfigMap, or undefined when there is none of that name. */
  configMap(namespace: string, name: string): Promise<k8s.V1ConfigMap | undefined>;
  /** The Secret, or undefined when there is none of that name. */
  secret(namespace: string, name: string): Promise<k8s.V1Secret | undefined>;
  /** The Services of one namespace. */
  services(namespace: string): Promise<k8s.V1Service[]>;
  /** One Service, or undefined when there is none of that name. */
  service(namespace: string, name: string): Promise<k8s.V1Service | undefined>;
}

const notFoundAsUndefined = <T>(read: Promise<T>): Promise<T | undefined> =>
  read.catch((err: unknown) => {
    if (err instanceof k8s.ApiException && err.code === 404) return undefined;
    throw err;
  });

/** The sources read from the API server with the node's credentials, one GET per object. */
export function kubeEnvSources(kubeConfig: k8s.KubeConfig): EnvSources {
  const core = makeKeepAliveClient(kubeConfig, k8s.CoreV1Api);
  return {
    configMap: (namespace, name) =>
      notFoundAsUndefined(core.readNamespacedConfigMap({ namespace, name })),
    secret: (namespace, name) =>
      notFoundAsUndefined(core.readNamespacedSecret({ namespace, name })),
    services: async (namespace) => (await core.listNamespacedService({ namespace })).items,
    service: (namespace, name) =>
      notFoundAsUndefined(core.readNamespacedService({ namespace, name })),
  };
}

/**
 * One read per object for the length of one attempt to create a pod (the kubelet's per-sync
 * view), however many containers and variables reference it. A failed read is not kept.
 */
export function memoizedSources(s: EnvSources): EnvSources {
  const seen = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    let p = seen.get(key) as Promise<T> | undefined;
    if (!p) {
      p = read();
      seen.set(key, p);
      p.catch(() => seen.delete(key));
    }
    return p;
  };
  return {
    configMap: (ns, name) => once(`cm/${ns}/${name}`, () => s.configMap(ns, name)),
    secret: (ns, name) => once(`secret/${ns}/${name}`, () => s.secret(ns, name)),
    services: (ns) => once(`services/${ns}`, () => s.services(ns)),
    service: (ns, name) => once(`svc/${ns}/${name}`, () => s.service(ns, name)),
  };
}
