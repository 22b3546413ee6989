// What the provider does around a container's run, beside starting it: its postStart hook once
// it has started (a failed one kills it), its preStop hooks before a stop, its probes while it
// runs (prober.ts), and killing one container of a running pod (a failed liveness or startup
// probe, a failed postStart hook): preStop, stop signal, grace, SIGKILL; pod-monitor.ts then
// restarts it as the pod's restartPolicy says.
import type { Logger } from '../../../logging/logger.js';
import type { PodEvent } from '../../../node/provider.js';
import type { VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy, TaskInfo } from '../proxy/isolation-proxy.js';
import { HookRunner } from './hook-runner.js';
import type { PodStopper, PreStop } from './pod-stopper.js';
import { podIPsOf } from './pod-status.js';
import { hasProbes, PodProber } from './prober.js';

export interface ContainerLifecycleDeps {
  isolation: IsolationProxy;
  stopper: PodStopper;
  event(vp: VicPod, e: PodEvent): void;
  /** The pod's status may have changed. */
  changed(vp: VicPod): void;
  /** The node's IP: a hostNetwork pod's too. */
  nodeIP: string;
  log: Logger;
}

export class ContainerLifecycle {
  private readonly hooks: HookRunner;

  constructor(private readonly d: ContainerLifecycleDeps) {
    this.hooks = new HookRunner({
      isolation: d.isolation,
      podIP: (vp) => podIPsOf(vp, d.nodeIP)[0],
      event: d.event,
      log: d.log,
    });
  }

  /** The preStop hooks of the pod's containers, for a stop of the pod. */
  preStop(vp: VicPod): PreStop {
    return this.hooks.preStop(vp);
  }

  /** The pod's probes, started; undefined when it has none. */
  startProber(vp: VicPod): PodProber | undefined {
    if (!hasProbes(vp.pod)) return undefined;
    const prober = new PodProber(vp, {
      isolation: this.d.isolation,
      podIP: (p) => podIPsOf(p, this.d.nodeIP)[0],
      event: this.d.event,
      changed: this.d.changed,
      kill: (p, name, graceSec) => this.kill(p, name, graceSec),
      log: this.d.log,
    });
    prober.start();
    return prober;
  }

  /** A task just started: its postStart hook; a failed one kills the container. */
  async postStart(vp: VicPod, task: TaskInfo, signal: AbortSignal): Promise<void> {
    const c = vp.containers.get(task.name);
    const spec = vp.pod.spec?.containers.find((x) => x.name === task.name);
    if (!c || !spec?.lifecycle?.postStart) return;
    c.postStartRunning = true;
    // The task runs now (a restart counted): what its status shows while the hook runs.
    if (vp.id) vp.info = await this.d.isolation.info(vp.id).catch(() => vp.info);
    this.d.changed(vp);
    try {
      if ((await this.hooks.postStart(vp, task, signal)) || signal.aborted) return;
      // Killed without ever counting as running.
      this.d.event(vp, {
        type: 'Normal',
        reason: 'Killing',
        message: 'FailedPostStartHook',
        container: task.name,
      });
      await this.kill(vp, task.name, vp.pod.spec?.terminationGracePeriodSeconds ?? 30);
    } finally {
      c.postStartRunning = false;
    }
  }

  /** Stops one container of a running pod (preStop, stop signal, grace, SIGKILL). */
  async kill(vp: VicPod, name: string, graceSec: number): Promise<void> {
    if (!vp.id || vp.stage === 'deleting') return;
    const info = await this.d.isolation.info(vp.id);
    const task = info.tasks?.find((t) => t.name === name);
    if (!task) return;
    await this.d.stopper.stopTask(task, graceSec, this.hooks.preStop(vp));
  }
}
