// What a pod's computed volumes are made of, read in one step before anything is written (as
// gatherEnvInputs for env): each ConfigMap and Secret its volumes name (by name, as the Node
// authorizer allows) and a token for each serviceAccountToken source. A read that fails is
// kept as its reason, so the content builder can tell an optional source from a missing one.
import type * as k8s from '@kubernetes/client-node';
import { apiErrorMessage } from '../../../../node/kube.js';
import type { Lookup, NodeFacts } from '../container-env.js';
import type { EnvSources } from '../env-sources.js';
import type { IssuedToken, TokenManager } from './service-account-token.js';

/** kube-api-access-*'s lifetime, and the API's default for a serviceAccountToken source. */
export const DEFAULT_TOKEN_SECONDS = 3600;

export interface VolumeInputs {
  configMaps: Map<string, Lookup<k8s.V1ConfigMap>>;
  secrets: Map<string, Lookup<k8s.V1Secret>>;
  /** By tokenKey(volume, source index). */
  tokens: Map<string, Lookup<IssuedToken>>;
  node: NodeFacts;
}

export const tokenKey = (volume: string, source: number) => `${volume}#${source}`;

/** The ConfigMaps and Secrets the pod's volumes name. */
export function volumeReferences(pod: k8s.V1Pod): { configMaps: string[]; secrets: string[] } {
  const cms = new Set<string>();
  const secrets = new Set<string>();
  for (const v of pod.spec?.volumes ?? []) {
    if (v.configMap) cms.add(v.configMap.name ?? '');
    if (v.secret) secrets.add(v.secret.secretName ?? '');
    for (const s of v.projected?.sources ?? []) {
      if (s.configMap) cms.add(s.configMap.name ?? '');
      if (s.secret) secrets.add(s.secret.name ?? '');
    }
  }
  return { configMaps: [...cms], secrets: [...secrets] };
}

async function lookup<T>(
  what: string,
  ns: string,
  name: string,
  read: (() => Promise<T | undefined>) | undefined,
): Promise<Lookup<T>> {
  if (!read) return { error: `couldn't get ${what} ${ns}/${name}, no kubeClient defined` };
  try {
    const object = await read();
    return object === undefined ? { missing: true } : { object };
  } catch (err) {
    return { error: `couldn't get ${what} ${ns}/${name}: ${apiErrorMessage(err)}` };
  }
}

/** Reads what the pod's volumes reference. */
export async function gatherVolumeInputs(
  pod: k8s.V1Pod,
  sources: EnvSources | undefined,
  tokens: TokenManager | undefined,
  node: NodeFacts,
): Promise<VolumeInputs> {
  const ns = pod.metadata!.namespace!;
  const refs = volumeReferences(pod);
  const inputs: VolumeInputs = {
    configMaps: new Map(),
    secrets: new Map(),
    tokens: new Map(),
    node,
  };
  const reads: Promise<unknown>[] = [
    ...refs.configMaps.map(async (name) =>
      inputs.configMaps.set(
        name,
        await lookup('configMap', ns, name, sources && (() => sources.configMap(ns, name))),
      ),
    ),
    ...refs.secrets.map(async (name) =>
      inputs.secrets.set(
        name,
        await lookup('secret', ns, name, sources && (() => sources.secret(ns, name))),
      ),
    ),
  ];
  const sa = pod.spec?.serviceAccountName || pod.spec?.serviceAccount || 'default';
  for (const v of pod.spec?.volumes ?? [])
    v.projected?.sources?.forEach((s, i) => {
      const t = s.serviceAccountToken;
      if (!t) return;
      const read =
        tokens &&
        (() =>
          tokens.get({
            namespace: ns,
            serviceAccount: sa,
            audiences: t.audience ? [t.audience] : [],
            expirationSeconds: t.expirationSeconds ?? DEFAULT_TOKEN_SECONDS,
            pod: { name: pod.metadata!.name!, uid: pod.metadata!.uid ?? '' },
          }));
      reads.push(
        lookup('token of serviceaccount', ns, sa, read).then((l) =>
          inputs.tokens.set(tokenKey(v.name, i), l),
        ),
      );
    });
  await Promise.all(reads);
  return inputs;
}
