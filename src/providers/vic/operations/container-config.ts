// A Kubernetes container plus its image's config → the portlayer task that runs it, with
// Kubernetes' rules: `command` replaces the image's ENTRYPOINT and drops its CMD, `args`
// replaces CMD; $(VAR) in command and args expands from the container's variables ($$
// escapes); the environment is made by container-env.ts.
import type * as k8s from '@kubernetes/client-node';
import { NodeError } from '../../../node/errors.js';
import type { ImageConfig } from '../proxy/image-store.js';
import type { TaskJoinConfig } from '../proxy/isolation-proxy.js';
import { DEFAULT_TERMINATION_MESSAGE_PATH } from './termination-message.js';
import { containerEnv, expand, NO_ENV_INPUTS, type ContainerEnv } from './container-env.js';
import { parseQuantity } from './quantity.js';
import { taskSecurity } from './security-config.js';

export { expand } from './container-env.js';

export function taskConfig(
  pod: k8s.V1Pod,
  c: k8s.V1Container,
  image: ImageConfig,
  /** The container's environment; by default one that references nothing outside the pod. */
  resolved: ContainerEnv = containerEnv(pod, c, image, NO_ENV_INPUTS),
): Omit<TaskJoinConfig, 'handle'> {
  const { env, vars } = resolved;
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
    ...(c.stdin && c.stdinOnce && { stdinOnce: true }),
    tty: c.tty ?? false,
    memoryLimitBytes: memory === undefined ? undefined : Math.ceil(memory),
    cpuMillis: cpu === undefined ? undefined : Math.ceil(cpu * 1000),
    terminationMessagePath: c.terminationMessagePath || DEFAULT_TERMINATION_MESSAGE_PATH,
  };
}
