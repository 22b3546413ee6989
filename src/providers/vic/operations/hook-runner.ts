// Lifecycle hooks as the kubelet runs them: postStart right after the container starts (the
// container is not Running, nor ready, until it returns; a failure is a FailedPostStartHook
// Event and the container is killed, then restarted as its restartPolicy says); preStop before
// the stop signal, inside the grace period (a failure is a FailedPreStopHook Event, and the
// stop goes on). Handlers: exec and sleep, and httpGet as action-support.ts allows.
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../../logging/logger.js';
import type { PodEvent } from '../../../node/provider.js';
import type { VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy, TaskInfo } from '../proxy/isolation-proxy.js';
import { type ActionHandler, runAction } from './container-actions.js';
import type { ProbeOutcome } from './probe-handlers.js';
import type { PreStop } from './pod-stopper.js';

/** A postStart hook has no time limit on a kubelet; this bounds one that never returns (s). */
const POST_START_LIMIT_SEC = 3600;

export interface HookRunnerDeps {
  isolation: IsolationProxy;
  podIP(vp: VicPod): string | undefined;
  event(vp: VicPod, e: PodEvent): void;
  log: Logger;
}

export class HookRunner {
  constructor(private readonly d: HookRunnerDeps) {}

  /** Runs the container's postStart hook, if any; false when it failed. */
  async postStart(vp: VicPod, task: TaskInfo, signal: AbortSignal): Promise<boolean> {
    const spec = specOf(vp, task.name);
    const hook = spec?.lifecycle?.postStart;
    if (!spec || !hook) return true;
    const r = await this.run(vp, spec, hook, POST_START_LIMIT_SEC, signal);
    if (r.ok || signal.aborted) return true;
    this.d.event(vp, {
      type: 'Warning',
      reason: 'FailedPostStartHook',
      message: failure(vp, spec, hook, r.output),
      container: spec.name,
    });
    return false;
  }

  /** The preStop hooks of a pod's running tasks, run side by side, each within the grace. */
  preStop(vp: VicPod): PreStop {
    return async (running, graceSec) => {
      const deadline = AbortSignal.timeout(graceSec * 1000);
      await Promise.all(
        running.map(async (task) => {
          const spec = specOf(vp, task.name);
          const hook = spec?.lifecycle?.preStop;
          if (!spec || !hook) return;
          const r = await this.run(vp, spec, hook, graceSec, deadline);
          if (r.ok) return;
          const message = deadline.aborted
            ? `PreStop hook for Container "${spec.name}" did not complete in ${graceSec}s`
            : failure(vp, spec, hook, r.output);
          this.d.event(vp, {
            type: 'Warning',
            reason: 'FailedPreStopHook',
            message,
            container: spec.name,
          });
        }),
      );
    };
  }

  private async run(
    vp: VicPod,
    container: k8s.V1Container,
    hook: ActionHandler,
    timeoutSec: number,
    signal: AbortSignal,
  ): Promise<ProbeOutcome> {
    const target = {
      isolation: this.d.isolation,
      podId: vp.id!,
      container,
      podIP: () => this.d.podIP(vp),
    };
    // The deadline (or the pod going away) ends a hook that runs on.
    let onAbort = () => {};
    const cancelled = new Promise<ProbeOutcome>((resolve) => {
      onAbort = () => resolve({ ok: false, output: 'hook cancelled' });
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([runAction(hook, target, timeoutSec, signal), cancelled]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

const specOf = (vp: VicPod, name: string) => vp.pod.spec?.containers.find((c) => c.name === name);

/** The kubelet's words for a failed hook. */
function failure(vp: VicPod, c: k8s.V1Container, hook: ActionHandler, output: string): string {
  const m = vp.pod.metadata!;
  const pod = `${m.name}_${m.namespace}(${m.uid})`;
  if (hook.exec) {
    const cmd = (hook.exec.command ?? []).join(' ');
    return `Exec lifecycle hook ([${cmd}]) for Container "${c.name}" in Pod "${pod}" failed - error: command '${cmd}' failed, message: ${JSON.stringify(output)}`;
  }
  if (hook.httpGet)
    return `HTTP lifecycle hook (${hook.httpGet.path ?? '/'}) for Container "${c.name}" in Pod "${pod}" failed - error: ${output}`;
  return `Lifecycle hook for Container "${c.name}" in Pod "${pod}" failed - error: ${output}`;
}
