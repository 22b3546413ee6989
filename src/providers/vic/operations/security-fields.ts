// Every field of a container's SecurityContext and of a PodSecurityContext, and what this node
// does with it (see pod-fields.ts). Applied: the user and group (runAsUser, runAsGroup, over
// the image's), runAsNonRoot, capabilities, readOnlyRootFilesystem, allowPrivilegeEscalation
// (security-config.ts), seccompProfile (seccomp-profile.ts). What a container gets otherwise: the
// default seccomp profile, no AppArmor or SELinux label, the default /proc masks; a field that
// asks for more is refused.
import { type Allowed, type FieldRule, only } from './field-rules.js';
import { allowedPrivileged, PRIVILEGED_REFUSED } from './host-access.js';

const CONTAINER_CONFIG_TEST = 'src/providers/vic/operations/container-config.test.ts';

const unconfined: Allowed = {
  values: '{ type: Unconfined } (what every container gets here)',
  allows: (v) => (v as { type?: string }).type === 'Unconfined',
};

const SECURITY_CONFIG = 'src/providers/vic/operations/security-config.ts';
const RUNTIME_TEST = 'test/integration/runtime-security.test.ts';
const SECURITY_CONFIG_TEST = 'src/providers/vic/operations/security-config.test.ts';
const VOLUME_CONTENT_TEST = 'src/providers/vic/operations/volumes/content.test.ts';
const RUN_AS_GROUP: FieldRule = {
  applied: `${SECURITY_CONFIG}: the task's group, with runAsUser or the image's user`,
  test: SECURITY_CONFIG_TEST,
};
const RUN_AS_NON_ROOT: FieldRule = {
  applied: `${SECURITY_CONFIG}: checked as the kubelet does, against runAsUser or the image's numeric USER`,
  test: SECURITY_CONFIG_TEST,
};
const RUN_AS_USER: FieldRule = {
  applied: "container-config.ts: the task's user, over the image's USER",
  test: CONTAINER_CONFIG_TEST,
};
const SECCOMP: FieldRule = {
  applied:
    "seccomp-profile.ts: RuntimeDefault (also when unset: Debian containers-common's profile), Unconfined, or Localhost from --seccomp-profile-root; runc linux.seccomp, vic-agent a BPF filter",
  test: RUNTIME_TEST,
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
    applied: "false: no_new_privs for the container's processes and execs (tether, vic-agent)",
    test: RUNTIME_TEST,
  },
  appArmorProfile: APPARMOR,
  capabilities: {
    applied:
      "Docker's default set minus drop plus add (src/runtime/capabilities.ts): the bounding set, and root's",
    test: RUNTIME_TEST,
  },
  // Refused unless the node runs with --allow-privileged (host-access.ts).
  privileged: { refused: PRIVILEGED_REFUSED, unless: allowedPrivileged },
  procMount: {
    refused: 'procMount Unmasked is not supported by this node: /proc is always masked',
    unless: only('Default'),
  },
  readOnlyRootFilesystem: {
    applied: "the container's root mounted read-only (runc root.readonly; vic-agent remount)",
    test: RUNTIME_TEST,
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
    applied:
      "security-config.ts: a supplementary group of every container's processes; volumes/content.ts and plan.ts: the group of the pod's volumes (emptyDir, configMap, secret, downwardAPI, projected)",
    test: VOLUME_CONTENT_TEST,
  },
  fsGroupChangePolicy: {
    applied:
      "the pod's volumes are made new for it, so Always and OnRootMismatch give the same ownership",
    test: VOLUME_CONTENT_TEST,
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
    applied: "security-config.ts: added to the groups of every container's processes",
    test: SECURITY_CONFIG_TEST,
  },
  supplementalGroupsPolicy: {
    refused:
      "supplementalGroupsPolicy Strict is not supported by this node: the groups of the user in the image's /etc/group are always added (Merge)",
    unless: only('Merge'),
  },
  sysctls: {
    applied:
      "sysctl-policy.ts: the kubelet's safe set and --allowed-unsafe-sysctls (else Failed, SysctlForbidden); runc sets them in the pause's namespaces, a pod VM on its kernel command line",
    test: 'test/integration/node-pod-security.test.ts',
  },
  windowsOptions: WINDOWS,
};
