// Commit: applies one handle's change set to the VCH core, all of it or none. A new container
// becomes a core pod with a core container per task; then the requested state is applied
// (RUNNING starts every task, STOPPED stops the running ones within `wait_time`) and bound tasks
// are started. If any step fails, what this commit did is undone (containers it started are
// stopped, containers and a pod it created are removed) and the error is the commit's answer.
import { conflict, errorKind, invalidInput } from '../errors.js';
import type { ContainerInfo as CoreContainer, PodInfo } from '../types.js';
import type { Vch, VchLogger } from '../vch.js';
import {
  Directory,
  LABEL_ID,
  LABEL_INTERACTION,
  LABEL_LOGGING,
  LABEL_SCOPES,
  LABEL_TASK,
  taskPlId,
} from './directory.js';
import { namesOf } from './create-names.js';
import type { ExecTasks } from './exec-tasks.js';
import type { ChangeSet, TaskSpec } from './handles.js';

/** Seconds a stop waits before SIGKILL when the commit does not say. */
const DEFAULT_STOP_SEC = 10;

export class Committer {
  constructor(
    private readonly vch: Vch,
    private readonly dir: Directory,
    private readonly execs: ExecTasks,
    private readonly log: VchLogger,
  ) {}

  async commit(set: ChangeSet, waitTimeSec: number | undefined): Promise<void> {
    const undo: (() => Promise<unknown>)[] = [];
    try {
      let pod: PodInfo;
      if (set.base === 'new') {
        pod = await this.createPod(set);
        undo.push(() => this.vch.removePod(pod.id, { force: true }));
      } else {
        const found = await this.dir.pod(set.containerId);
        if (!found) throw invalidInput(`container ${set.containerId} is gone`);
        pod = found;
        this.checkPodLevelJoins(set, pod);
      }
      // A removed task goes first: a task joined in the same commit may take its name (a
      // container whose image changed). Removal is not undone if a later step fails.
      for (const id of set.remove ?? []) {
        const t = (await this.dir.tasksOf(pod)).find((x) => taskPlId(x) === id);
        if (!t) throw invalidInput(`task ${id} is not in container ${set.containerId}`);
        if (t.status === 'running') throw conflict(`task ${id} is running: stop it first`);
        await this.vch.removeContainer(t.id, { force: true });
      }
      for (const task of set.tasks) {
        const c = await this.createTask(set, pod, task);
        if (set.base !== 'new') undo.push(() => this.vch.removeContainer(c.id, { force: true }));
      }
      const tasks = await this.dir.tasksOf(pod);
      if (set.state === 'RUNNING') {
        for (const t of tasks) await this.start(t, undo);
      } else if (set.state === 'STOPPED') {
        const timeoutSeconds = waitTimeSec ?? DEFAULT_STOP_SEC;
        await Promise.all(
          tasks
            .filter((t) => t.status === 'running')
            .map((t) => this.vch.stopContainer(t.id, { timeoutSeconds })),
        );
      }
      for (const id of set.bind) {
        const exec = set.execs.find((e) => e.id === id);
        // An exec starts last (nothing to undo: it changes nothing of the pod).
        if (exec) continue;
        const t = tasks.find((x) => taskPlId(x) === id);
        if (!t) throw invalidInput(`task ${id} is not in container ${set.containerId}`);
        await this.start(t, undo);
      }
      await this.startExecs(set, pod);
    } catch (err) {
      for (const step of undo.reverse())
        await step().catch((e: unknown) =>
          this.log.warn({ err: (e as Error).message }, 'portlayer: undoing a failed commit failed'),
        );
      throw err;
    }
  }

  /**
   * A commit of execs alone: they change nothing of the pod, so no version is checked or
   * bumped (routes-containers.ts), and nothing is undone.
   */
  async commitExecs(set: ChangeSet): Promise<void> {
    const pod = await this.dir.pod(set.containerId);
    if (!pod) throw invalidInput(`container ${set.containerId} is gone`);
    await this.startExecs(set, pod);
  }

  private async startExecs(set: ChangeSet, pod: PodInfo): Promise<void> {
    for (const id of set.bind) {
      const exec = set.execs.find((e) => e.id === id);
      if (exec) await this.execs.start(pod, set.containerId, exec);
    }
  }

  private async start(t: CoreContainer, undo: (() => Promise<unknown>)[]): Promise<void> {
    if (await this.vch.startContainer(t.id))
      undo.push(() => this.vch.stopContainer(t.id, { signal: 'SIGKILL', timeoutSeconds: 0 }));
  }

  private async createPod(set: ChangeSet): Promise<PodInfo> {
    const c = set.create ?? {};
    const names = namesOf(c);
    const labels: Record<string, string> = { ...c.annotations, [LABEL_ID]: set.containerId };
    if (set.logging) labels[LABEL_LOGGING] = 'true';
    if (set.interaction) labels[LABEL_INTERACTION] = 'true';
    if (set.scopes.length) labels[LABEL_SCOPES] = set.scopes.join(',');
    return this.vch.createPod({
      ...(c.name && { name: c.name }),
      ...(c.hostname && { hostname: c.hostname }),
      labels,
      ...(c.memoryMB && { memoryLimitBytes: c.memoryMB * 2 ** 20 }),
      ...(c.numCPUs && { cpuMillis: c.numCPUs * 1000 }),
      ...(c.shareProcessNamespace && { shareProcessNamespace: true }),
      ...(c.hostNetwork && { hostNetwork: true }),
      ...(c.hostPID && { hostPID: true }),
      ...(c.hostIPC && { hostIPC: true }),
      ...(c.sysctls && { sysctls: c.sysctls }),
      ...(names && { names }),
      ...(c.ports?.length && { ports: c.ports }),
    });
  }

  /** Logging, interaction and scopes are the pod's, fixed when it is created. */
  private checkPodLevelJoins(set: ChangeSet, pod: PodInfo): void {
    const missing = (on: boolean, label: string) => on && pod.labels[label] !== 'true';
    const scopes = new Set(pod.labels[LABEL_SCOPES]?.split(',') ?? []);
    if (
      missing(set.logging, LABEL_LOGGING) ||
      missing(set.interaction, LABEL_INTERACTION) ||
      set.scopes.some((s) => !scopes.has(s))
    )
      throw invalidInput(
        'logging, interaction and scope joins are made before a container is first committed',
      );
  }

  private async createTask(set: ChangeSet, pod: PodInfo, task: TaskSpec): Promise<CoreContainer> {
    const image = set.images.get(task.deltaID);
    if (!image) throw invalidInput(`task ${task.name}: no image joined as ${task.deltaID}`);
    try {
      return await this.vch.createContainer({
        podId: pod.id,
        name: `${pod.name}.${task.name}`,
        nameInPod: task.name,
        image: image.image,
        entrypoint: [task.path],
        cmd: task.args,
        env: task.env,
        ...(task.workingDir && { workingDir: task.workingDir }),
        ...(task.user && { user: task.user }),
        ...(task.stopSignal && { stopSignal: task.stopSignal }),
        ...(task.memoryLimitBytes !== undefined && { memoryLimitBytes: task.memoryLimitBytes }),
        ...(task.cpuMillis !== undefined && { cpuMillis: task.cpuMillis }),
        ...(task.security && { security: task.security }),
        ...(task.groupAdd?.length && { groupAdd: task.groupAdd }),
        ...(task.terminationMessagePath && {
          terminationMessagePath: task.terminationMessagePath,
        }),
        ...(task.mounts?.length && { mounts: task.mounts }),
        ...(task.pidNamespaceOf && { pidNamespaceOf: task.pidNamespaceOf }),
        ...(task.openStdin && { stdin: true }),
        ...(task.stdinOnce && { stdinOnce: true }),
        ...(task.tty && { tty: true }),
        labels: { [LABEL_TASK]: task.id },
      });
    } catch (err) {
      if (errorKind(err) === 'InvalidInput' || errorKind(err) === 'NotFound')
        throw invalidInput(`task ${task.name}: ${(err as Error).message}`);
      throw err;
    }
  }
}
