// Every field of a container's SecurityContext and of a PodSecurityContext, and what this node
// does with it (see pod-fields.ts). What a container gets here: the image's user, or
// runAsUser[:runAsGroup]; Docker's default capabilities; no seccomp filter, no AppArmor or
// SELinux label, no_new_privs off, a writable root filesystem, the default /proc masks. A
// field that asks for that is fine; one that asks for more protection or another identity is
// refused until the node applies it.
import type * as k8s from '@kubernetes/client-node';
import { type Allowed, type FieldContext, type FieldRule, only } from './field-rules.js';

const CONTAINER_CONFIG_TEST = 'src/providers/vic/operations/container-config.test.ts';

type Sc = k8s.V1SecurityContext | undefined;

/** The containers a field speaks for: the one it is on, or every one (a pod-level field). */
function containersOf({ pod, container }: FieldContext): k8s.V1Container[] {
  return container ? [container] : (pod.spec?.containers ?? []);
}

/** A container's runAsUser: its own, else the pod's. */
function uidOf(pod: k8s.V1Pod, c: k8s.V1Container): number | undefined {
  return (c.securityContext as Sc)?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
}

const withRunAsUser: Allowed = {
  values: "any, with a runAsUser (the container's or the pod's)",
  allows: (_v, ctx) => containersOf(ctx).every((c) => uidOf(ctx.pod, c) !== undefined),
};

const nonRootByRunAsUser: Allowed = {
  values: 'false; true with a non-zero runAsUser',
  allows: (v, ctx) =>
    v === false ||
    containersOf(ctx).every((c) => {
      const own = (c.securityContext as Sc)?.runAsNonRoot;
      // A container that says false for itself is not bound by the pod's true.
      if (!ctx.container && own === false) return true;
      const uid = uidOf(ctx.pod, c);
      return uid !== undefined && uid !== 0;
    }),
};

const unconfined: Allowed = {
  values: '{ type: Unconfined } (what every container gets here)',
  allows: (v) => (v as { type?: string }).type === 'Unconfined',
};

const RUN_AS_GROUP: FieldRule = {
  refused:
    "runAsGroup is applied only together with runAsUser (without it the image's user and group would run); set runAsUser too",
  unless: withRunAsUser,
};
const RUN_AS_NON_ROOT: FieldRule = {
  refused:
    "runAsNonRoot is checked by this node only against runAsUser, not the image's user: set runAsUser to a non-zero uid (runAsUser 0 breaks the non-root policy)",
  unless: nonRootByRunAsUser,
};
const RUN_AS_USER: FieldRule = {
  applied: "container-config.ts: the task's user, over the image's USER",
  test: CONTAINER_CONFIG_TEST,
};
const SECCOMP: FieldRule = {
  refused:
    'seccomp profiles are not applied by this node yet (containers run without a seccomp filter, as seccompProfile Unconfined); remove seccompProfile or set type Unconfined',
  unless: unconfined,
};
const APPARMOR: FieldRule = {
  refused:
    'AppArmor profiles are not applied by this node (containers run unconfined); remove appArmorProfile or set type Unconfined',
  unless: unconfined,
};
const SELINUX: FieldRule = {
  refused: 'SELinux labels are not applied by this node; remove seLinuxOptions',
};
const WINDOWS: FieldRule = {
  refused: 'this node runs Linux containers only; remove windowsOptions',
};

export const SECURITY_CONTEXT_FIELDS: Record<string, FieldRule> = {
  allowPrivilegeEscalation: {
    refused:
      'allowPrivilegeEscalation: false (no_new_privs) is not applied by this node yet: processes may gain privileges through setuid binaries; remove it',
    unless: only(true),
  },
  appArmorProfile: APPARMOR,
  capabilities: {
    refused:
      "capabilities add and drop are not applied by this node yet: every container gets Docker's default set; remove them",
  },
  privileged: {
    refused: 'privileged containers are not supported by this node',
    unless: only(false),
  },
  procMount: {
    refused: 'procMount Unmasked is not supported by this node: /proc is always masked',
    unless: only('Default'),
  },
  readOnlyRootFilesystem: {
    refused:
      "a read-only root filesystem is not applied by this node yet: the container's root would be writable; remove readOnlyRootFilesystem",
    unless: only(false),
  },
  runAsGroup: RUN_AS_GROUP,
  runAsNonRoot: RUN_AS_NON_ROOT,
  runAsUser: RUN_AS_USER,
  seLinuxOptions: SELINUX,
  seccompProfile: SECCOMP,
  windowsOptions: WINDOWS,
};

export const POD_SECURITY_CONTEXT_FIELDS: Record<string, FieldRule> = {
  appArmorProfile: APPARMOR,
  fsGroup: {
    refused:
      'fsGroup is not applied by this node yet (neither to volumes nor as a supplementary group); remove it',
  },
  fsGroupChangePolicy: {
    refused: 'fsGroupChangePolicy goes with fsGroup, which this node does not apply; remove it',
  },
  runAsGroup: RUN_AS_GROUP,
  runAsNonRoot: RUN_AS_NON_ROOT,
  runAsUser: RUN_AS_USER,
  seLinuxChangePolicy: {
    refused: 'SELinux relabelling is not done by this node; remove seLinuxChangePolicy',
  },
  seLinuxOptions: SELINUX,
  seccompProfile: SECCOMP,
  supplementalGroups: {
    refused:
      'supplementalGroups are not applied by this node yet: the process would run without them; remove them',
  },
  supplementalGroupsPolicy: {
    refused:
      "supplementalGroupsPolicy Strict is not supported by this node: the groups of the user in the image's /etc/group are always added (Merge)",
    unless: only('Merge'),
  },
  sysctls: { refused: 'sysctls are not applied by this node; remove them' },
  windowsOptions: WINDOWS,
};
