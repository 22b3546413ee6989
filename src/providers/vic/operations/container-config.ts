// A Kubernetes container plus its image's config → the portlayer task that runs it, with
// Kubernetes' rules: `command` replaces the image's ENTRYPOINT and drops its CMD, `args`
// replaces CMD; $(VAR) in command, args and env values expands from the container's env
// ($$ escapes); the container's env goes after the image's (later wins); a PATH is always set.
import type * as k8s from '@kubernetes/client-node';
import { NodeError } from '../../../node/errors.js';
import type { ImageConfig } from '../proxy/image-store.js';
import type { TaskJoinConfig } from '../proxy/isolation-proxy.js';
import { parseQuantity } from './quantity.js';
import { taskSecurity } from './security-config.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Expands $(NAME) from `vars`; $$(NAME) stays $(NAME); unknown names stay as written. */
export function expand(text: string, vars: Map<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name?: string) => {
    if (match === '$$') return '$';
    return vars.get(name!) ?? match;
  });
}

/** The value of a downward-API fieldRef the provider can answer without the API server. */
function fieldValue(pod: k8s.V1Pod, path: string, container: string): string {
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
  }
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (label) return (label[1] === 'labels' ? m.labels : m.annotations)?.[label[2]] ?? '';
  throw new NodeError(
    'InvalidInput',
    `container ${container}: env fieldRef ${path} is not supported by this node`,
  );
}

/** The container's env over the image's, $(VAR)-expanded, as KEY=value in order. */
export function containerEnv(pod: k8s.V1Pod, c: k8s.V1Container, image: ImageConfig): string[] {
  const vars = new Map<string, string>();
  for (const e of image.env) {
    const eq = e.indexOf('=');
    if (eq > 0) vars.set(e.slice(0, eq), e.slice(eq + 1));
  }
  for (const e of c.env ?? []) {
    let value: string;
    if (e.valueFrom) {
      if (!e.valueFrom.fieldRef)
        throw new NodeError(
          'InvalidInput',
          `container ${c.name}: env ${e.name} takes its value from a source this node does not support (only fieldRef)`,
        );
      value = fieldValue(pod, e.valueFrom.fieldRef.fieldPath, c.name);
    } else value = expand(e.value ?? '', vars);
    vars.delete(e.name); // a redefined variable moves to its new place
    vars.set(e.name, value);
  }
  if (c.envFrom?.length)
    throw new NodeError(
      'InvalidInput',
      `container ${c.name}: envFrom is not supported by this node`,
    );
  const env = [...vars].map(([k, v]) => `${k}=${v}`);
  if (!vars.has('PATH')) env.unshift(DEFAULT_PATH);
  return env;
}

export function taskConfig(
  pod: k8s.V1Pod,
  c: k8s.V1Container,
  image: ImageConfig,
): Omit<TaskJoinConfig, 'handle'> {
  const env = containerEnv(pod, c, image);
  const vars = new Map(
    env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const),
  );
  const entrypoint = c.command?.length ? c.command.map((a) => expand(a, vars)) : image.entrypoint;
  const cmd = c.args?.length
    ? c.args.map((a) => expand(a, vars))
    : c.command?.length
      ? []
      : image.cmd;
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0 || argv[0] === '')
    throw new NodeError(
      'InvalidInput',
      `container ${c.name}: no command: the pod gives none and image ${c.image} has neither ENTRYPOINT nor CMD`,
    );
  const limits = c.resources?.limits ?? {};
  const memory =
    limits.memory === undefined
      ? undefined
      : parseQuantity(limits.memory, `container ${c.name}: memory limit`);
  const cpu =
    limits.cpu === undefined
      ? undefined
      : parseQuantity(limits.cpu, `container ${c.name}: cpu limit`);
  return {
    name: c.name,
    deltaID: c.name,
    path: argv[0],
    args: argv.slice(1),
    env,
    workingDir: c.workingDir || image.workingDir || undefined,
    ...taskSecurity(pod, c, image.user),
    stopSignal: image.stopSignal,
    attach: false,
    openStdin: c.stdin ?? false,
    tty: c.tty ?? false,
    memoryLimitBytes: memory === undefined ? undefined : Math.ceil(memory),
    cpuMillis: cpu === undefined ? undefined : Math.ceil(cpu * 1000),
  };
}
