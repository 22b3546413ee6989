// The manifest of `vic-kubelet run`: one Pod and, in the same multi-document YAML (as `podman
// kube play` takes them), the ConfigMaps and Secrets it references, so its volumes and env work
// without a cluster. They are served to the provider as the API server would serve them
// (EnvSources): by namespace and name, a Secret's stringData merged into its data.
import type * as k8s from '@kubernetes/client-node';
import { NodeError } from '../../node/errors.js';
import type { EnvSources } from './operations/env-sources.js';

export interface RunObjects {
  configMaps: k8s.V1ConfigMap[];
  secrets: k8s.V1Secret[];
}

const KINDS = ['ConfigMap', 'Secret'];

/** Splits the documents: the Pod's, and the ConfigMaps and Secrets; InvalidInput otherwise. */
export function splitRunDocuments(
  docs: unknown[],
  source: string,
): { pod: unknown[]; objects: RunObjects } {
  const pod: unknown[] = [];
  const objects: RunObjects = { configMaps: [], secrets: [] };
  for (const doc of docs) {
    const o = doc as { kind?: unknown; apiVersion?: unknown; metadata?: { name?: unknown } };
    if (typeof o !== 'object' || o === null || !KINDS.includes(o.kind as string)) {
      pod.push(doc);
      continue;
    }
    const kind = o.kind as string;
    if (o.apiVersion !== undefined && o.apiVersion !== 'v1')
      throw new NodeError('InvalidInput', `${source}: ${kind}: want apiVersion v1`);
    if (typeof o.metadata?.name !== 'string' || o.metadata.name === '')
      throw new NodeError('InvalidInput', `${source}: a ${kind} needs metadata.name`);
    const meta = { ...(o as k8s.V1ObjectMeta & { metadata: k8s.V1ObjectMeta }).metadata };
    meta.namespace ??= 'default';
    if (kind === 'ConfigMap')
      objects.configMaps.push({ ...(o as k8s.V1ConfigMap), metadata: meta });
    else {
      const s = o as k8s.V1Secret;
      const data = { ...s.data };
      for (const [k, v] of Object.entries(s.stringData ?? {}))
        data[k] = Buffer.from(v).toString('base64');
      objects.secrets.push({ ...s, metadata: meta, data, stringData: undefined });
    }
  }
  return { pod, objects };
}

/** The manifest's objects as the API server would answer for them; no Services. */
export function manifestSources(objects: RunObjects): EnvSources {
  const find = <T extends { metadata?: k8s.V1ObjectMeta }>(list: T[], ns: string, name: string) =>
    list.find((o) => o.metadata?.namespace === ns && o.metadata?.name === name);
  return {
    configMap: async (ns, name) => find(objects.configMaps, ns, name),
    secret: async (ns, name) => find(objects.secrets, ns, name),
    services: async () => [],
    service: async () => undefined,
  };
}
