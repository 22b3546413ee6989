// A container's security context (its own over the pod's) → the portlayer task's user and
// security fields, with the kubelet's rules: runAsUser and runAsGroup over the image's USER
// (runAsGroup alone keeps the image's user, with that group); runAsNonRoot checked as
// pkg/kubelet/kuberuntime verifyRunAsNonRoot does, against runAsUser or else the image's
// numeric user; readOnlyRootFilesystem, capabilities add/drop and allowPrivilegeEscalation:
// false (no_new_privs) and the pod's supplementalGroups passed on for the runtime to apply.
import type * as k8s from '@kubernetes/client-node';
import type { TaskJoinConfig } from '../proxy/isolation-proxy.js';
import { ContainerConfigError } from './errors.js';

export type TaskSecurity = Pick<
  TaskJoinConfig,
  'user' | 'groupAdd' | 'readOnlyRootfs' | 'capAdd' | 'capDrop' | 'noNewPrivileges' | 'privileged'
>;

/** The kubelet's name for a pod in messages (format.Pod): name_namespace(uid). */
function podName(pod: k8s.V1Pod): string {
  const m = pod.metadata ?? {};
  return `${m.name ?? ''}_${m.namespace ?? ''}(${m.uid ?? ''})`;
}

/** The user part of a Docker USER ("name", "uid:gid", "name:group"). */
const userPart = (user: string) => user.split(':')[0];

/** Refuses a container that runAsNonRoot forbids, with the kubelet's words. */
function verifyRunAsNonRoot(
  pod: k8s.V1Pod,
  c: k8s.V1Container,
  uid: number | undefined,
  imageUser: string,
): void {
  const nonRoot = c.securityContext?.runAsNonRoot ?? pod.spec?.securityContext?.runAsNonRoot;
  if (!nonRoot) return;
  const where = `(pod: ${JSON.stringify(podName(pod))}, container: ${c.name})`;
  // The kubelet's CreateContainerConfigError: the container waits, tried again (the pod's spec
  // cannot change, but the message says what to fix).
  const refuse = (why: string) => {
    throw new ContainerConfigError(c.name, `${why} ${where}`, 'InvalidInput');
  };
  if (uid !== undefined) {
    if (uid === 0) refuse("container's runAsUser breaks non-root policy");
    return;
  }
  const user = userPart(imageUser);
  // An image without USER runs as root.
  if (user === '' || /^0+$/.test(user))
    refuse('container has runAsNonRoot and image will run as root');
  if (!/^\d+$/.test(user))
    refuse(
      `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root`,
    );
}

export function taskSecurity(pod: k8s.V1Pod, c: k8s.V1Container, imageUser: string): TaskSecurity {
  const sc = c.securityContext ?? {};
  const psc = pod.spec?.securityContext ?? {};
  const uid = sc.runAsUser ?? psc.runAsUser;
  const gid = sc.runAsGroup ?? psc.runAsGroup;
  verifyRunAsNonRoot(pod, c, uid, imageUser);
  const name = uid !== undefined ? String(uid) : userPart(imageUser) || '0';
  const user = gid !== undefined ? `${name}:${gid}` : uid !== undefined ? String(uid) : imageUser;
  const caps = sc.capabilities ?? {};
  // fsGroup is one of the groups too, as the kubelet adds it (the group of the pod's volumes).
  const groups = [
    ...(psc.supplementalGroups ?? []),
    ...(psc.fsGroup !== undefined ? [psc.fsGroup] : []),
  ];
  return {
    user,
    ...(groups.length > 0 && { groupAdd: groups.map(String) }),
    ...(sc.readOnlyRootFilesystem === true && { readOnlyRootfs: true }),
    ...(caps.add?.length && { capAdd: caps.add }),
    ...(caps.drop?.length && { capDrop: caps.drop }),
    ...(sc.allowPrivilegeEscalation === false && { noNewPrivileges: true }),
    // Only on a node started with --allow-privileged (validate.ts refuses it otherwise).
    ...(sc.privileged === true && { privileged: true }),
  };
}
