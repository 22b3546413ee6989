// What the provider keeps of one pod: the pod as Kubernetes sent it, its id on the VCH once
// committed, and per container what the VCH cannot say (why it waits, its back-off, how its last
// run ended before a restart replaced it).
import type * as k8s from '@kubernetes/client-node';
import type { ContainerInfo } from '../proxy/isolation-proxy.js';

/** Annotations on the VCH container that let the cache be rebuilt from the VCH alone. */
export const ANNOTATION_NAMESPACE = 'io.kubernetes.pod.namespace';
export const ANNOTATION_NAME = 'io.kubernetes.pod.name';
export const ANNOTATION_UID = 'io.kubernetes.pod.uid';
/** The pod's metadata and spec as JSON. */
export const ANNOTATION_POD = 'vic-kubelet.pod';
/**
 * The pod's choice of isolation backend (runc or vm), passed on as is: the VCH checks it and
 * records it with the pod, so a bad value fails the commit with the VCH's one-line reason.
 */
export const ANNOTATION_RUNTIME = 'vic-kubelet.io/runtime';

export interface Waiting {
  reason: string;
  message?: string;
}

export interface LastTermination {
  exitCode: number;
  reason: string;
  /** Its termination message (termination-message.ts). */
  message?: string;
  startedAt?: Date;
  finishedAt?: Date;
}

export interface ContainerRecord {
  name: string;
  image: string;
  /** The task's id on the VCH, once joined and committed. */
  taskId?: string;
  /** Why the container is not running yet (or again), when the VCH has no say. */
  waiting?: Waiting;
  /** How its run before the current one ended (Kubernetes lastState). */
  lastTermination?: LastTermination;
  /** Restart back-off: the next delay (ms) and when a pending restart is due (epoch ms). */
  backoffMs: number;
  restartDueAt?: number;
  /** Being recreated with a new image (image-update.ts): the monitor leaves it alone. */
  replacing?: boolean;
  /** Restarts of the tasks it replaced (a changed image): its restartCount goes on from them. */
  restartsBefore?: number;
  /** The restart count the VCH had when the last run's end was recorded. */
  recordedRestarts?: number;
  /** Its postStart hook runs: it is not Running (nor ready) until the hook returns. */
  postStartRunning?: boolean;
}

/** What the pod's probes say of its containers (prober.ts); undefined: no such probe. */
export interface ProbeState {
  /** The readiness result (false until the startup probe has succeeded). */
  ready(container: string): boolean | undefined;
  /** Whether the startup probe has succeeded. */
  started(container: string): boolean | undefined;
}

export type Stage =
  /** Pulling images, joining and committing. */
  | 'creating'
  /** Committed (and being started or running). */
  | 'created'
  /** Being stopped and removed. */
  | 'deleting';

export interface VicPod {
  /** The VCH container (pod) id; undefined until committed. */
  id?: string;
  pod: k8s.V1Pod;
  stage: Stage;
  containers: Map<string, ContainerRecord>;
  /** The VCH's last answer about the pod. */
  info?: ContainerInfo;
  /** When the provider took the pod on (status.startTime). */
  startTime: Date;
  /** When each pod condition last changed, by type. */
  transitions: Map<string, { status: string; at: Date }>;
  /** Its probes, while they run. */
  probes?: ProbeState;
  /** Why the pod failed as a whole (DeadlineExceeded), beyond what its containers say. */
  failure?: Waiting;
  /** Why the node evicted the pod (an emptyDir over its sizeLimit): it is Failed, Evicted. */
  evicted?: { message: string };
}

export const podKey = (namespace: string, name: string) => `${namespace}/${name}`;

export function newVicPod(pod: k8s.V1Pod, now = new Date()): VicPod {
  return {
    pod,
    stage: 'creating',
    startTime: now,
    transitions: new Map(),
    containers: new Map(
      // Init containers too: each is a task of the pod, with a status and a log of its own.
      [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => [
        c.name,
        { name: c.name, image: c.image ?? '', backoffMs: 0 },
      ]),
    ),
  };
}

/** The part of a pod the VCH keeps in an annotation: enough to run and report it again. */
export function podForAnnotation(pod: k8s.V1Pod): string {
  const m = pod.metadata ?? {};
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      labels: m.labels,
      annotations: m.annotations,
      creationTimestamp: m.creationTimestamp,
    },
    spec: pod.spec,
  });
}
