// PodProber: the probes of one pod's containers, a ProbeWorker each (probe-worker.ts), run
// against the container through container-actions.ts. What they find goes into the pod's status
// (vp.probes: ready, started); a liveness or startup probe that fails for good gets the
// kubelet's Events (Unhealthy on each failure, then Killing) and the container is killed, to be
// restarted as the pod's restartPolicy says (pod-monitor.ts sees it exit).
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../../logging/logger.js';
import type { PodEvent } from '../../../node/provider.js';
import type { ProbeState, VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy } from '../proxy/isolation-proxy.js';
import { runAction } from './container-actions.js';
import type { ProbeOutcome } from './probe-handlers.js';
import { type ContainerRun, type ProbeKind, ProbeWorker } from './probe-worker.js';

export interface PodProberDeps {
  isolation: IsolationProxy;
  podIP(vp: VicPod): string | undefined;
  event(vp: VicPod, e: PodEvent): void;
  /** The pod's status may have changed. */
  changed(vp: VicPod): void;
  /** Kills the container (its preStop hook, its stop signal, `graceSec`, SIGKILL). */
  kill(vp: VicPod, container: string, graceSec: number): Promise<void>;
  log: Logger;
  now?: () => number;
}

const TITLE: Record<ProbeKind, string> = {
  liveness: 'Liveness',
  readiness: 'Readiness',
  startup: 'Startup',
};

/** Whether the pod has any probe to run. */
export const hasProbes = (pod: k8s.V1Pod) =>
  (pod.spec?.containers ?? []).some((c) => c.livenessProbe || c.readinessProbe || c.startupProbe);

export class PodProber implements ProbeState {
  private readonly workers = new Map<string, Partial<Record<ProbeKind, ProbeWorker>>>();

  constructor(
    private readonly vp: VicPod,
    private readonly d: PodProberDeps,
  ) {
    for (const c of vp.pod.spec?.containers ?? []) {
      const w: Partial<Record<ProbeKind, ProbeWorker>> = {};
      const probes: [ProbeKind, k8s.V1Probe | undefined][] = [
        ['startup', c.startupProbe],
        ['liveness', c.livenessProbe],
        ['readiness', c.readinessProbe],
      ];
      for (const [kind, probe] of probes)
        if (probe) w[kind] = new ProbeWorker(kind, probe, this.deps(c, probe, w));
      this.workers.set(c.name, w);
    }
  }

  start(): void {
    this.vp.probes = this;
    for (const w of this.workers.values()) for (const k of Object.values(w)) k.start();
  }

  stop(): void {
    for (const w of this.workers.values()) for (const k of Object.values(w)) k.stop();
  }

  ready(container: string): boolean | undefined {
    const w = this.workers.get(container);
    if (w?.startup && !w.startup.ok) return false;
    return w?.readiness?.ok;
  }

  started(container: string): boolean | undefined {
    return this.workers.get(container)?.startup?.ok;
  }

  private deps(c: k8s.V1Container, probe: k8s.V1Probe, w: Partial<Record<ProbeKind, ProbeWorker>>) {
    const vp = this.vp;
    return {
      current: (): ContainerRun | undefined => {
        const rec = vp.containers.get(c.name);
        const task = vp.info?.tasks?.find((t) => t.name === c.name);
        const p = task?.processConfig;
        if (!task || p?.status !== 'running' || rec?.postStartRunning || vp.stage === 'deleting')
          return undefined;
        const startedAtMs = p.startedAt ? Date.parse(p.startedAt) : (p.startTime ?? 0) * 1000;
        return { key: `${task.id}/${task.restartCount ?? 0}/${startedAtMs}`, startedAtMs };
      },
      gated: () => !!w.startup && !w.startup.ok,
      run: (timeoutSec: number, signal: AbortSignal) =>
        runAction(
          probe,
          {
            isolation: this.d.isolation,
            podId: vp.id!,
            container: c,
            podIP: () => this.d.podIP(vp),
          },
          timeoutSec,
          signal,
        ),
      failedOnce: (kind: ProbeKind, o: ProbeOutcome) =>
        this.d.event(vp, {
          type: 'Warning',
          reason: 'Unhealthy',
          message: `${TITLE[kind]} probe failed: ${o.output}`,
          container: c.name,
        }),
      changed: () => this.d.changed(vp),
      failed: (kind: ProbeKind) => void this.kill(c, probe, kind),
      now: this.d.now ?? Date.now,
    };
  }

  private async kill(c: k8s.V1Container, probe: k8s.V1Probe, kind: ProbeKind): Promise<void> {
    const vp = this.vp;
    this.d.event(vp, {
      type: 'Normal',
      reason: 'Killing',
      message: `Container ${c.name} failed ${kind} probe, will be restarted`,
      container: c.name,
    });
    // The probe's own grace period, else the pod's (the kubelet's order).
    const graceSec =
      probe.terminationGracePeriodSeconds ?? vp.pod.spec?.terminationGracePeriodSeconds ?? 30;
    try {
      await this.d.kill(vp, c.name, graceSec);
    } catch (err) {
      this.d.log.warn(
        { pod: vp.pod.metadata?.name, container: c.name, err: (err as Error).message },
        `killing the container after its failed ${kind} probe`,
      );
    }
  }
}
