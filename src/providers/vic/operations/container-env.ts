// A container's environment as the kubelet makes it (pkg/kubelet makeEnvironmentVariables,
// v1.34): envFrom first (ConfigMaps and Secrets, with prefix and optional), then env in order
// (a value $(VAR)-expanded over the variables so far and the Service variables; or valueFrom:
// fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef), then the Service variables not
// already set. The image's env goes under all of it. A mandatory ConfigMap, Secret or key that
// is missing, or an API server that cannot be read, is a ContainerConfigError (the kubelet's
// CreateContainerConfigError), tried again until it is there.
//
// Two steps, so the second is pure: gatherEnvInputs reads what the pod references (async, over
// EnvSources), containerEnv makes one container's environment from that.
import type * as k8s from '@kubernetes/client-node';
import { errorMessage } from '../../../node/errors.js';
import { apiErrorMessage } from '../../../node/kube.js';
import type { PodEvent } from '../../../node/provider.js';
import type { ImageConfig } from '../proxy/image-store.js';
import type { EnvSources } from './env-sources.js';
import { ContainerConfigError } from './errors.js';
import { parseQuantity } from './quantity.js';
import { podServices, serviceVariables } from './service-env.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A ConfigMap or Secret as read: the object, nothing (no such object), or why it was not. */
export type Lookup<T> = { object: T } | { missing: true } | { error: string };

/** What the node knows of itself that the downward API gives. */
export interface NodeFacts {
  /** Allocatable cpu, memory, ephemeral-storage: the limit of a container that sets none. */
  allocatable: Record<string, string>;
  /** status.hostIP(s). */
  hostIPs: string[];
}

export interface EnvInputs {
  configMaps: Map<string, Lookup<k8s.V1ConfigMap>>;
  secrets: Map<string, Lookup<k8s.V1Secret>>;
  /** The Service variables, or why the Services could not be read. */
  services: Map<string, string> | { error: string };
  node: NodeFacts;
  /** status.podIP(s): what the pod is reported with. */
  podIPs: string[];
}

export interface ContainerEnv {
  /** KEY=value, the image's env under the container's. */
  env: string[];
  /** The container's variables (not the image's): what $(VAR) in command and args expands. */
  vars: Map<string, string>;
  /** Events to record on the pod (keys skipped). */
  events: PodEvent[];
}

/** Inputs for a pod that references nothing (and for the node without an API server). */
export const NO_ENV_INPUTS: EnvInputs = {
  configMaps: new Map(),
  secrets: new Map(),
  services: new Map(),
  node: { allocatable: {}, hostIPs: [] },
  podIPs: [],
};

/** Expands $(NAME) from `vars`; $$ is $; unknown names stay as written (Kubernetes' rules). */
export function expand(
  text: string,
  vars: Map<string, string> | ((name: string) => string | undefined),
): string {
  const get = typeof vars === 'function' ? vars : (name: string) => vars.get(name);
  return text.replace(/\$\$|\$\(([^)]*)\)/g, (match, name?: string) =>
    match === '$$' ? '$' : (get(name!) ?? match),
  );
}

/** Reads every ConfigMap, Secret and Service the pod's containers reference. */
export async function gatherEnvInputs(
  pod: k8s.V1Pod,
  sources: EnvSources | undefined,
  node: NodeFacts,
  podIPs: string[],
): Promise<EnvInputs> {
  const ns = pod.metadata!.namespace!;
  const cmNames = new Set<string>();
  const secretNames = new Set<string>();
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const f of c.envFrom ?? []) {
      if (f.configMapRef) cmNames.add(f.configMapRef.name ?? '');
      if (f.secretRef) secretNames.add(f.secretRef.name ?? '');
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef) cmNames.add(e.valueFrom.configMapKeyRef.name ?? '');
      if (e.valueFrom?.secretKeyRef) secretNames.add(e.valueFrom.secretKeyRef.name ?? '');
    }
  }
  const lookup = async <T>(what: string, name: string, read?: () => Promise<T | undefined>) => {
    if (!read) return { error: `couldn't get ${what} ${ns}/${name}, no kubeClient defined` };
    try {
      const object = await read();
      return object === undefined ? { missing: true as const } : { object };
    } catch (err) {
      return { error: `couldn't get ${what} ${ns}/${name}: ${apiErrorMessage(err)}` };
    }
  };
  const configMaps = new Map<string, Lookup<k8s.V1ConfigMap>>();
  const secrets = new Map<string, Lookup<k8s.V1Secret>>();
  await Promise.all([
    ...[...cmNames].map(async (name) =>
      configMaps.set(
        name,
        await lookup('configMap', name, sources && (() => sources.configMap(ns, name))),
      ),
    ),
    ...[...secretNames].map(async (name) =>
      secrets.set(name, await lookup('secret', name, sources && (() => sources.secret(ns, name)))),
    ),
  ]);
  let services: EnvInputs['services'] = new Map();
  // A node without an API server has no Services (the kubelet's "kubelet without masters").
  if (sources)
    try {
      services = serviceVariables(await podServices(pod, sources));
    } catch (err) {
      services = {
        error: `failed to list services when setting up env vars: ${apiErrorMessage(err)}`,
      };
    }
  return { configMaps, secrets, services, node, podIPs };
}

/**
 * A name the container's environment can carry: printable ASCII but '=' (the rule v1.34
 * validates env names by). The API server lets no other key through envFrom; one that came
 * anyway is skipped, with the kubelet's Event, rather than corrupting the KEY=value list.
 */
const isEnvVarName = (k: string) => /^[\x20-\x3c\x3e-\x7e]+$/.test(k);

/** One container's environment from the gathered inputs. */
export function containerEnv(
  pod: k8s.V1Pod,
  c: k8s.V1Container,
  image: ImageConfig,
  inputs: EnvInputs,
): ContainerEnv {
  const ns = pod.metadata!.namespace!;
  const fail = (message: string, kind?: 'InvalidInput') =>
    new ContainerConfigError(c.name, message, kind);
  if ('error' in inputs.services) throw fail(inputs.services.error, undefined);
  const serviceEnv = inputs.services;
  const events: PodEvent[] = [];
  // The object, or undefined for an optional one that is missing; throws for the rest.
  const read = <T>(
    what: 'configmap' | 'secret',
    looked: Lookup<T> | undefined,
    name: string,
    optional: boolean | undefined,
  ): T | undefined => {
    if (!looked) throw fail(`${what} ${JSON.stringify(name)} was not read`);
    if ('error' in looked) throw fail(looked.error, undefined);
    if ('missing' in looked) {
      if (optional) return undefined;
      throw fail(`${what} ${JSON.stringify(name)} not found`);
    }
    return looked.object;
  };
  const secretData = (s: k8s.V1Secret) =>
    Object.entries(s.data ?? {}).map(
      ([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')] as const,
    );

  const vars = new Map<string, string>();
  // A redefined variable moves to its new place, as the last word on it.
  const set = (k: string, v: string) => {
    vars.delete(k);
    vars.set(k, v);
  };
  for (const f of c.envFrom ?? []) {
    let entries: (readonly [string, string])[];
    let source: string;
    if (f.configMapRef) {
      const { name = '', optional } = f.configMapRef;
      const cm = read('configmap', inputs.configMaps.get(name), name, optional);
      if (!cm) continue;
      entries = Object.entries(cm.data ?? {});
      source = `configMap ${ns}/${name}`;
    } else if (f.secretRef) {
      const { name = '', optional } = f.secretRef;
      const s = read('secret', inputs.secrets.get(name), name, optional);
      if (!s) continue;
      entries = secretData(s);
      source = `secret ${ns}/${name}`;
    } else continue;
    const invalid: string[] = [];
    for (const [key, value] of entries) {
      const k = (f.prefix ?? '') + key;
      if (isEnvVarName(k)) set(k, value);
      else invalid.push(k);
    }
    if (invalid.length)
      events.push({
        type: 'Warning',
        reason: 'InvalidEnvironmentVariableNames',
        message: `Keys [${invalid.sort().join(', ')}] from the EnvFrom ${source} were skipped since they are considered invalid environment variable names.`,
      });
  }

  // The variables so far, then the Service variables (the kubelet's MappingFuncFor order).
  const expandNow = (text: string) =>
    expand(text, (name) => vars.get(name) ?? serviceEnv.get(name));
  for (const e of c.env ?? []) {
    let value: string;
    const from = e.valueFrom;
    if (e.value) value = expandNow(e.value);
    else if (from?.fieldRef) value = fieldValue(pod, from.fieldRef.fieldPath, inputs, fail);
    else if (from?.resourceFieldRef)
      value = resourceValue(pod, c, from.resourceFieldRef, inputs.node.allocatable, fail);
    else if (from?.configMapKeyRef) {
      const { name = '', key, optional } = from.configMapKeyRef;
      const cm = read('configmap', inputs.configMaps.get(name), name, optional);
      if (!cm) continue;
      const v = cm.data?.[key];
      if (v === undefined) {
        if (optional) continue;
        throw fail(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
      }
      value = v;
    } else if (from?.secretKeyRef) {
      const { name = '', key, optional } = from.secretKeyRef;
      const s = read('secret', inputs.secrets.get(name), name, optional);
      if (!s) continue;
      const v = secretData(s).find(([k]) => k === key)?.[1];
      if (v === undefined) {
        if (optional) continue;
        throw fail(`couldn't find key ${key} in Secret ${ns}/${name}`);
      }
      value = v;
    } else if (from)
      throw fail(
        `env ${e.name} takes its value from a source this node does not support`,
        'InvalidInput',
      );
    else value = '';
    set(e.name, value);
  }
  for (const [k, v] of serviceEnv) if (!vars.has(k)) vars.set(k, v);

  // The image's env under the container's.
  const all = new Map<string, string>();
  for (const e of image.env) {
    const eq = e.indexOf('=');
    if (eq > 0) all.set(e.slice(0, eq), e.slice(eq + 1));
  }
  for (const [k, v] of vars) {
    all.delete(k);
    all.set(k, v);
  }
  const env = [...all].map(([k, v]) => `${k}=${v}`);
  if (!all.has('PATH')) env.unshift(DEFAULT_PATH);
  return { env, vars, events };
}

export type Fail = (message: string, kind?: 'InvalidInput') => ContainerConfigError;

/** A downward-API fieldRef, as the kubelet answers it for env. */
function fieldValue(pod: k8s.V1Pod, path: string, inputs: EnvInputs, fail: Fail): string {
  const m = pod.metadata ?? {};
  switch (path) {
    case 'metadata.name':
      return m.name ?? '';
    case 'metadata.namespace':
      return m.namespace ?? '';
    case 'metadata.uid':
      return m.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
      return inputs.node.hostIPs[0] ?? '';
    case 'status.hostIPs':
      return inputs.node.hostIPs.join(',');
    case 'status.podIP':
      return inputs.podIPs[0] ?? '';
    case 'status.podIPs':
      return inputs.podIPs.join(',');
  }
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (sub) return (sub[1] === 'labels' ? m.labels : m.annotations)?.[sub[2]] ?? '';
  throw fail(`env fieldRef ${path} is not supported`, 'InvalidInput');
}

/** Rounds up to a whole number of `scale` units, as resource.Quantity's Value/MilliValue. */
const ceilScaled = (q: number, scale: number) => Math.ceil(Number((q * scale).toPrecision(15)));

/** The limits the kubelet gives a container that sets none: the node's allocatable. */
const DEFAULTED_LIMITS = ['cpu', 'memory', 'ephemeral-storage'];

/** A resourceFieldRef: the container's request or limit over the divisor, rounded up. */
export function resourceValue(
  pod: k8s.V1Pod,
  c: k8s.V1Container,
  ref: k8s.V1ResourceFieldSelector,
  allocatable: Record<string, string>,
  fail: Fail,
): string {
  const target = ref.containerName
    ? [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
        (x) => x.name === ref.containerName,
      )
    : c;
  if (!target) throw fail(`container ${ref.containerName} not found`, 'InvalidInput');
  const m = /^(limits|requests)\.(cpu|memory|ephemeral-storage|hugepages-.+)$/.exec(ref.resource);
  if (!m) throw fail(`unsupported container resource : ${ref.resource}`, 'InvalidInput');
  const [, kind, resource] = m;
  const what = `container ${target.name}: ${kind}.${resource}`;
  let q = target.resources?.[kind as 'limits' | 'requests']?.[resource];
  const quantity = (text: string | undefined, of: string) => {
    try {
      return text === undefined ? 0 : parseQuantity(text, of);
    } catch (err) {
      throw fail(errorMessage(err), 'InvalidInput');
    }
  };
  let value = quantity(q, what);
  if (kind === 'limits' && value === 0 && DEFAULTED_LIMITS.includes(resource)) {
    q = allocatable[resource];
    value = quantity(q, `node allocatable ${resource}`);
  }
  const divisor = quantity(ref.divisor, `${what}: divisor`);
  const d = divisor === 0 ? 1 : divisor;
  const result =
    resource === 'cpu'
      ? Math.ceil(ceilScaled(value, 1000) / ceilScaled(d, 1000))
      : Math.ceil(ceilScaled(value, 1) / ceilScaled(d, 1));
  return String(result);
}
