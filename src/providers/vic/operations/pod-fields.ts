// Every field of a PodSpec and of a Container (names as @kubernetes/client-node's
// attributeTypeMap lists them) and what this node does with it: applied (and the test that
// shows it), the control plane's, refused (and why), or — for a value the API server puts on
// every pod — a gap listed in the README. pod-fields.test.ts holds the tables to the client
// library's fields, so a field Kubernetes adds fails the test until it is decided here.
import type * as k8s from '@kubernetes/client-node';
import { LIFECYCLE_REFUSED, runnableLifecycle } from './action-support.js';
import { allowedHostNamespace, hostNamespaceRefused } from './host-access.js';
import { ANNOTATION_RUNTIME } from '../cache/vic-pod.js';
import { type FieldRule, only } from './field-rules.js';

export { POD_SECURITY_CONTEXT_FIELDS, SECURITY_CONTEXT_FIELDS } from './security-fields.js';

const POD_DNS_TEST = 'test/integration/node-pod-dns.test.ts';
const UNIT = 'src/providers/vic/operations';
const CONTAINER_CONFIG_TEST = `${UNIT}/container-config.test.ts`;
const CONTAINER_ENV_TEST = `${UNIT}/container-env.test.ts`;
const SERVICE_ENV_TEST = `${UNIT}/service-env.test.ts`;
const POD_CREATOR_TEST = `${UNIT}/pod-creator.test.ts`;
const POD_FIELDS_TEST = `${UNIT}/pod-fields.test.ts`;
const PROVIDER_TEST = 'src/providers/vic/vic-provider.test.ts';
const PROVIDER_IT = 'test/integration/provider-vic.test.ts';
const TERMINATION_MESSAGE_TEST = `${UNIT}/termination-message.test.ts`;
const INIT_TEST = 'src/providers/vic/vic-provider-init.test.ts';
const VOLUME_PLAN_TEST = `${UNIT}/volumes/plan.test.ts`;
const EPHEMERAL_TEST = 'src/providers/vic/vic-provider-ephemeral.test.ts';
const VOLUMES_APPLIED =
  'volumes/: emptyDir (disk, Memory, sizeLimit evicts), configMap, secret, downwardAPI, projected (with the bound service-account token), hostPath; any other source is refused (validate-volumes.ts)';

/** Refused unless the node runs with --allow-host-namespaces (host-access.ts). */
const hostNamespace = (ns: string): FieldRule => ({
  refused: hostNamespaceRefused(ns),
  unless: allowedHostNamespace,
});

/**
 * A container's own stdin and terminal: held by the runc tether for attach sessions; a pod
 * VM's agent does not hold them yet, so a pod annotated for a VM is refused (and the VCH
 * refuses them in a VM whatever asked).
 */
const onRunc = (field: string, how: string): FieldRule => ({
  refused: `${field} is not supported in a pod VM yet (its agent holds no container stdin or terminal): run the pod on runc (annotation ${ANNOTATION_RUNTIME}: runc) or remove ${field}`,
  unless: {
    values: `any on runc (${how}); false in a pod VM`,
    allows: (v, { pod }) => v === false || pod.metadata?.annotations?.[ANNOTATION_RUNTIME] !== 'vm',
  },
});

/** Probes run by prober.ts: exec, and the network handlers where action-support.ts lets them. */
const probe: FieldRule = {
  applied:
    "prober.ts: exec, httpGet, tcpSocket and grpc (grpc-probe.ts, grpc.health.v1.Health/Check); the network ones to the pod's IP, refused under --bridge-network none",
  test: 'test/integration/node-network.test.ts',
};

export const POD_SPEC_FIELDS: Record<string, FieldRule> = {
  activeDeadlineSeconds: {
    applied:
      'active-deadline.ts: from status.startTime; then Failed (DeadlineExceeded) and its containers stopped',
    test: INIT_TEST,
  },
  affinity: { controlPlane: 'the scheduler places the pod' },
  automountServiceAccountToken: {
    controlPlane:
      'the ServiceAccount admission adds the token volume (kube-api-access-*) or not; the node mounts what the pod has (see volumes)',
  },
  containers: { applied: 'each field as the container table says', test: CONTAINER_CONFIG_TEST },
  dnsConfig: {
    applied:
      "pod-dns.ts: nameservers and searches appended, options merged by name, as the kubelet does; the VCH writes the pod's resolv.conf",
    test: POD_DNS_TEST,
  },
  dnsPolicy: {
    applied:
      "pod-dns.ts: ClusterFirst from --cluster-dns/--cluster-domain (without --cluster-dns the node's resolv.conf and a MissingClusterDNS event, as the kubelet), Default the node's --resolv-conf, None only dnsConfig",
    test: POD_DNS_TEST,
  },
  enableServiceLinks: {
    applied: "service-env.ts: the namespace's Service variables unless false",
    test: SERVICE_ENV_TEST,
  },
  ephemeralContainers: {
    applied:
      'ephemeral-containers.ts: each one added (kubectl debug) is joined to the running pod and started, never restarted, and reported in ephemeralContainerStatuses; its fields as the ephemeral container table says (one it cannot run waits with the reason, the pod runs on)',
    test: EPHEMERAL_TEST,
  },
  hostAliases: {
    applied:
      "pod-dns.ts → the pod's /etc/hosts, under the kubelet's '# Entries added by HostAliases.'",
    test: POD_DNS_TEST,
  },
  hostIPC: hostNamespace('IPC'),
  hostNetwork: hostNamespace('network'),
  hostPID: hostNamespace('PID'),
  hostUsers: {
    refused:
      'user namespaces (hostUsers: false) are not supported by this node: containers run in the host user namespace',
    unless: only(true),
  },
  hostname: {
    applied: "the pod sandbox's hostname (pod-dns.ts podHostname)",
    test: POD_CREATOR_TEST,
  },
  hostnameOverride: { refused: 'hostnameOverride is not applied by this node yet; remove it' },
  imagePullSecrets: {
    applied: 'the pull credentials of each image (pod-creator.ts, proxy/pull-secrets.ts)',
    test: POD_CREATOR_TEST,
  },
  initContainers: {
    applied:
      'init-sequence.ts: one by one, each to completion, before the app containers; sidecars (restartPolicy Always) beside them',
    test: INIT_TEST,
  },
  nodeName: { controlPlane: 'the scheduler binds the pod; the node watches the pods bound to it' },
  nodeSelector: { controlPlane: 'the scheduler places the pod' },
  os: {
    refused: 'this node runs Linux containers only; os.name must be linux',
    unless: { values: '{ name: linux }', allows: (v) => (v as k8s.V1PodOS).name === 'linux' },
  },
  overhead: { controlPlane: 'set by RuntimeClass admission for the scheduler' },
  preemptionPolicy: { controlPlane: 'the scheduler preempts' },
  priority: { controlPlane: 'the Priority admission sets it for the scheduler' },
  priorityClassName: { controlPlane: 'the Priority admission resolves it' },
  readinessGates: {
    applied:
      "node/pod-conditions.ts: Ready is False (ReadinessGatesNotReady) until each gate's condition is True; others' conditions are kept",
    test: 'test/integration/node-probes.test.ts',
  },
  resourceClaims: { refused: 'dynamic resource allocation (resourceClaims) is not supported' },
  resources: {
    refused:
      'pod-level resources are not applied by this node yet; set resources on each container instead',
  },
  restartPolicy: {
    applied: 'restart-policy.ts: Always, OnFailure, Never with back-off',
    test: PROVIDER_TEST,
  },
  runtimeClassName: {
    refused:
      'runtimeClassName is not supported by this node; choose the isolation with the annotation vic-kubelet.io/runtime (runc or vm)',
  },
  schedulerName: { controlPlane: 'the named scheduler places the pod' },
  schedulingGates: { controlPlane: 'the scheduler holds the pod until its gates are removed' },
  securityContext: {
    applied: 'each field as the pod security context table says',
    test: POD_FIELDS_TEST,
  },
  serviceAccount: { controlPlane: 'the ServiceAccount admission (token volume: see volumes)' },
  serviceAccountName: { controlPlane: 'the ServiceAccount admission (token volume: see volumes)' },
  setHostnameAsFQDN: {
    applied:
      'pod-dns.ts: the hostname is hostname.subdomain.namespace.svc.<cluster domain> (64 characters at most, as the kubelet)',
    test: POD_DNS_TEST,
  },
  shareProcessNamespace: {
    applied:
      "pod-creator.ts → the portlayer's shareProcessNamespace: one PID namespace for the pod's containers (runc: the pause's; vm: the guest's)",
    test: 'test/integration/node-pod-security.test.ts',
  },
  subdomain: {
    applied:
      "pod-dns.ts: the pod's domain, subdomain.namespace.svc.<cluster domain>, in its /etc/hosts (the cluster DNS serves the records)",
    test: POD_DNS_TEST,
  },
  terminationGracePeriodSeconds: {
    applied: 'vic-provider.ts deletePod → pod-stopper.ts: the stop signal, then SIGKILL after it',
    test: PROVIDER_IT,
  },
  tolerations: { controlPlane: 'the scheduler and the taint-eviction controller' },
  topologySpreadConstraints: { controlPlane: 'the scheduler places the pod' },
  volumes: { applied: VOLUMES_APPLIED, test: VOLUME_PLAN_TEST },
};

export const CONTAINER_FIELDS: Record<string, FieldRule> = {
  args: {
    applied: 'container-config.ts: replaces the image CMD, $(VAR) expanded',
    test: CONTAINER_CONFIG_TEST,
  },
  command: {
    applied: 'container-config.ts: replaces the image ENTRYPOINT',
    test: CONTAINER_CONFIG_TEST,
  },
  env: {
    applied:
      'container-env.ts: values, valueFrom (ConfigMap, Secret, fieldRef, resourceFieldRef), $(VAR)',
    test: CONTAINER_ENV_TEST,
  },
  envFrom: {
    applied: 'container-env.ts: ConfigMaps and Secrets, prefix, optional',
    test: CONTAINER_ENV_TEST,
  },
  image: {
    applied:
      'pulled through the persona, run by the task; changed on an update, the container is recreated from it (image-update.ts)',
    test: PROVIDER_TEST,
  },
  imagePullPolicy: {
    applied: 'pod-creator.ts: Always, IfNotPresent, Never',
    test: POD_CREATOR_TEST,
  },
  lifecycle: { refused: LIFECYCLE_REFUSED, unless: runnableLifecycle },
  livenessProbe: probe,
  name: { applied: 'the task name and the status name', test: CONTAINER_CONFIG_TEST },
  ports: {
    applied:
      "host-ports.ts: hostPort (and hostIP) published through the VCH's portmap on the node's addresses; a port another pod holds refuses the pod; containerPort alone is informational, as on any kubelet",
    test: 'test/integration/node-network.test.ts',
  },
  readinessProbe: probe,
  resizePolicy: {
    refused:
      "in-place resize is not done by this node: a resize would leave the container's resources as they were; remove resizePolicy",
  },
  resources: {
    refused:
      'only cpu and memory limits are enforced by this node (and no resource claims); remove the other limits',
    unless: {
      values: 'requests of any resource; limits of cpu and memory',
      allows: (v) => {
        const r = v as k8s.V1ResourceRequirements;
        return (
          !r.claims?.length &&
          Object.keys(r.limits ?? {}).every((k) => k === 'cpu' || k === 'memory')
        );
      },
    },
  },
  restartPolicy: {
    refused:
      "a container's own restartPolicy is supported only as Always on an init container (a native sidecar); remove it",
    unless: {
      values: '`Always` on an init container (a native sidecar, init-sequence.ts)',
      allows: (v, { init }) => init === true && v === 'Always',
    },
  },
  restartPolicyRules: {
    refused: "a container's restartPolicyRules are not supported by this node yet; remove them",
  },
  securityContext: {
    applied: 'each field as the security context table says',
    test: POD_FIELDS_TEST,
  },
  startupProbe: probe,
  stdin: onRunc(
    'stdin',
    'its tether holds the stdin for kubectl attach -i (tether/attach-server.h)',
  ),
  stdinOnce: onRunc('stdinOnce', 'the stdin closes when the first attach session with it ends'),
  terminationMessagePath: {
    applied:
      'the VCH binds a file of its own there and reads it (4 KiB, safe-read) at each exit: state.terminated.message',
    test: TERMINATION_MESSAGE_TEST,
  },
  terminationMessagePolicy: {
    applied: 'termination-message.ts: File, FallbackToLogsOnError (the last 80 lines, 2 KiB)',
    test: TERMINATION_MESSAGE_TEST,
  },
  tty: onRunc(
    'tty',
    'its tether gives it a terminal (a pty of its own devpts) for kubectl attach -t',
  ),
  volumeDevices: { refused: 'block volumes (volumeDevices) are not supported by this node' },
  volumeMounts: {
    applied:
      'volumes/plan.ts: one VolumeJoin per mount, readOnly, subPath, subPathExpr; mountPropagation other than None is refused',
    test: VOLUME_PLAN_TEST,
  },
  workingDir: { applied: "container-config.ts: over the image's", test: CONTAINER_CONFIG_TEST },
};

/**
 * An ephemeral container (kubectl debug) runs as a task of the pod as a container does, so it is
 * held to the container table (the API server already forbids its ports, probes, lifecycle and
 * resources), plus its target.
 */
export const EPHEMERAL_CONTAINER_FIELDS: Record<string, FieldRule> = {
  ...CONTAINER_FIELDS,
  targetContainerName: {
    applied:
      "runc: the container joins the target container's PID namespace (ps shows the target's processes); a pod VM refuses it (the ephemeral container waits with the reason)",
    test: 'test/integration/node-debug.test.ts',
  },
};
