// The one place that decides which probe and hook handlers this node runs. exec and sleep need
// only the container; httpGet and tcpSocket need the pod's IP, so they wait for the pod
// network (set POD_NETWORK to true once pods get IPs: the prober already probes the pod IP);
// grpc's health protocol is not built.
import type * as k8s from '@kubernetes/client-node';
import type { Allowed } from './field-rules.js';

/** Whether pods on this node have an IP that probes and hooks can reach. */
export const POD_NETWORK = false;

const NO_POD_NETWORK =
  'httpGet and tcpSocket probes need a pod IP; this node has no pod network yet';

export const PROBE_REFUSED = POD_NETWORK
  ? 'grpc probes are not run by this node (no gRPC health client); use an exec, httpGet or tcpSocket probe'
  : `${NO_POD_NETWORK}, and grpc probes are not run at all; use an exec probe`;

export const LIFECYCLE_REFUSED = POD_NETWORK
  ? 'tcpSocket is not a lifecycle handler (as on any kubelet); use exec, sleep or httpGet'
  : 'httpGet hooks need a pod IP; this node has no pod network yet (and tcpSocket is no lifecycle handler); use exec or sleep';

/** A probe this node runs. */
export const runnableProbe: Allowed = {
  values: POD_NETWORK ? 'exec, httpGet and tcpSocket probes' : 'exec probes',
  allows: (v) => {
    const p = v as k8s.V1Probe;
    return !p.grpc && (POD_NETWORK || (!p.httpGet && !p.tcpSocket));
  },
};

/** Lifecycle hooks this node runs. */
export const runnableLifecycle: Allowed = {
  values: POD_NETWORK ? 'exec, sleep and httpGet hooks' : 'exec and sleep hooks',
  allows: (v) => {
    const l = v as k8s.V1Lifecycle;
    return [l.postStart, l.preStop].every(
      (h) => !h || (!h.tcpSocket && (POD_NETWORK || !h.httpGet)),
    );
  },
};
