// Where the portlayer's ids live in the VCH core. A portlayer container is a core pod and a task
// is a core container. Their ids are handed out at join time, before the commit creates them, so
// each carries its portlayer id in a label (`vic.portlayer.id` on the pod, `vic.portlayer.task`
// on the container); pods and containers made through the persona (docker) have none and are
// known by their core ids.
import type { ContainerInfo as CoreContainer, PodInfo } from '../types.js';
import type { Vch } from '../vch.js';

export const LABEL_ID = 'vic.portlayer.id';
export const LABEL_TASK = 'vic.portlayer.task';
export const LABEL_LOGGING = 'vic.portlayer.logging';
export const LABEL_INTERACTION = 'vic.portlayer.interaction';
export const LABEL_SCOPES = 'vic.portlayer.scopes';
const RESERVED = 'vic.portlayer.';

/** A pod's labels without ours: the annotations the client gave. */
export function annotationsOf(pod: PodInfo): Record<string, string> {
  return Object.fromEntries(Object.entries(pod.labels).filter(([k]) => !k.startsWith(RESERVED)));
}

export const podPlId = (pod: PodInfo) => pod.labels[LABEL_ID] ?? pod.id;
export const taskPlId = (c: CoreContainer) => c.config.labels?.[LABEL_TASK] ?? c.id;

const ID = /^[0-9a-f]{64}$/;

export class Directory {
  /** Portlayer id → core id, learnt from scans: later lookups are one database read. */
  private readonly pods = new Map<string, string>();
  private readonly tasks = new Map<string, string>();

  constructor(private readonly vch: Vch) {}

  async pod(id: string): Promise<PodInfo | undefined> {
    if (!ID.test(id)) return undefined;
    const known = this.pods.get(id);
    if (known) {
      const pod = await this.vch.inspectPod(known).catch(() => undefined);
      if (pod && podPlId(pod) === id) return pod;
      this.pods.delete(id);
    }
    // By label in the database (a listing of every pod per unknown id made the node's start
    // of N pods cost N² row parses), else a persona pod known by its core id.
    const coreId = this.vch.podIdByLabel(LABEL_ID, id) ?? id;
    const pod = await this.vch.inspectPod(coreId).catch(() => undefined);
    if (!pod || (podPlId(pod) !== id && pod.id !== id)) return undefined;
    this.pods.set(id, pod.id);
    return pod;
  }

  async task(id: string): Promise<CoreContainer | undefined> {
    if (!ID.test(id)) return undefined;
    const known = this.tasks.get(id);
    if (known) {
      const c = await this.vch.inspectContainer(known).catch(() => undefined);
      if (c && taskPlId(c) === id) return c;
      this.tasks.delete(id);
    }
    const coreId = this.vch.containerIdByLabel(LABEL_TASK, id) ?? id;
    const c = await this.vch.inspectContainer(coreId).catch(() => undefined);
    if (!c || (taskPlId(c) !== id && c.id !== id)) return undefined;
    this.tasks.set(id, c.id);
    return c;
  }

  /** A pod's containers in the order they were joined. */
  async tasksOf(pod: PodInfo): Promise<CoreContainer[]> {
    const list = await this.vch.listContainers({ all: true, podId: pod.id });
    return list.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
  }

  /** The pod and tasks an id names: a pod, or one task (with its pod). */
  async resolve(
    id: string,
  ): Promise<{ pod: PodInfo; tasks: CoreContainer[]; task?: CoreContainer } | undefined> {
    // An id known to be a task's skips the pod scan.
    const pod = this.tasks.has(id) ? undefined : await this.pod(id);
    if (pod) return { pod, tasks: await this.tasksOf(pod) };
    const task = await this.task(id);
    if (!task) return undefined;
    const owner = await this.vch.inspectPod(task.podId);
    return { pod: owner, tasks: [task], task };
  }
}
