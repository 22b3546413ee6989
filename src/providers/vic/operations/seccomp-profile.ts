// A container's seccompProfile (its own over the pod's) → the portlayer task's seccomp fields.
// RuntimeDefault — also when neither says — is the VCH's default profile; Unconfined none;
// Localhost a file under the node's --seccomp-profile-root, read here as the kubelet reads it
// from its own seccomp directory, and sent to the VCH as text (the VCH may be on another host).
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { TaskJoinConfig } from '../proxy/isolation-proxy.js';
import { ContainerConfigError } from './errors.js';

export type TaskSeccomp = Pick<TaskJoinConfig, 'seccompProfile' | 'seccompLocalhostProfile'>;

/** The kubelet's default --seccomp-profile-root: <root-dir>/seccomp. */
export const DEFAULT_SECCOMP_PROFILE_ROOT = '/var/lib/kubelet/seccomp';
/** As the VCH's cap on a profile. */
const MAX_PROFILE_BYTES = 1 << 20;

export async function taskSeccomp(
  pod: k8s.V1Pod,
  c: k8s.V1Container,
  profileRoot: string,
): Promise<TaskSeccomp> {
  const p = c.securityContext?.seccompProfile ?? pod.spec?.securityContext?.seccompProfile;
  const type = p?.type ?? 'RuntimeDefault';
  if (type === 'RuntimeDefault') return { seccompProfile: 'RuntimeDefault' };
  if (type === 'Unconfined') return { seccompProfile: 'Unconfined' };
  const fail = (why: string) => new ContainerConfigError(c.name, why, 'InvalidInput');
  if (type !== 'Localhost') throw fail(`seccompProfile type ${JSON.stringify(type)} is unknown`);
  const name = p?.localhostProfile ?? '';
  // The API server checks this too; the node does not rely on it.
  if (name === '' || isAbsolute(name) || normalize(name).split('/').includes('..'))
    throw fail(
      `seccompProfile localhostProfile ${JSON.stringify(name)} must be a relative path inside ${profileRoot}`,
    );
  const path = join(profileRoot, name);
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile())
    throw fail(
      `failed to load the seccomp profile ${JSON.stringify(path)}: no such file on this node`,
    );
  if (st.size > MAX_PROFILE_BYTES)
    throw fail(
      `the seccomp profile ${JSON.stringify(path)} is larger than ${MAX_PROFILE_BYTES} bytes`,
    );
  return { seccompProfile: 'Localhost', seccompLocalhostProfile: await readFile(path, 'utf8') };
}
