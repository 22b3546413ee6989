// Ephemeral containers (kubectl debug): a pod update that adds one to spec.ephemeralContainers
// (the API's `ephemeralcontainers` subresource) joins it to the running pod on the VCH — one
// commit of an image join and a task join, VIC's handle model, as a changed image is made
// (image-update.ts) — and the pod's monitor starts it. It shares the pod's sandbox (network,
// IPC, UTS, /dev/shm), joins the PID namespace of its targetContainerName where the backend can
// (runc), is never restarted (init-sequence.ts), and is reported in ephemeralContainerStatuses.
// One that cannot be run waits with the reason and a Warning Event; the pod runs on.
import type * as k8s from '@kubernetes/client-node';
import { errorKind, errorMessage } from '../../../node/errors.js';
import type { PodEvent } from '../../../node/provider.js';
import type { Logger } from '../../../logging/logger.js';
import type { ContainerRecord, VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy } from '../proxy/isolation-proxy.js';
import { containerEvents } from './container-events.js';
import { ContainerConfigError, ImagePullError } from './errors.js';
import type { PodCreator } from './pod-creator.js';
import { nextAttempt } from './restart-policy.js';
import { retryOnConflict, sleep } from './retry.js';
import { validateEphemeralContainer } from './validate.js';

/** The ephemeral containers of `spec` the provider has no record of yet. */
export function newEphemerals(vp: VicPod): k8s.V1EphemeralContainer[] {
  return (vp.pod.spec?.ephemeralContainers ?? []).filter((ec) => !vp.containers.has(ec.name));
}

export interface EphemeralHooks {
  event(e: PodEvent): void;
  /** The pod's status may have changed. */
  changed(): void;
  /** A task was committed: the monitor looks again and starts it. */
  poke(): void;
}

export class EphemeralAdder {
  constructor(
    private readonly creator: PodCreator,
    private readonly isolation: IsolationProxy,
    private readonly log: Logger,
  ) {}

  /**
   * Takes on `ec` (recorded at once, so it is reported as waiting) and joins it to the created
   * pod `vp`, trying again with back-off while the image cannot be pulled or the VCH cannot
   * answer, until it is committed, refused, or the pod goes (`signal`).
   */
  async add(
    vp: VicPod,
    ec: k8s.V1EphemeralContainer,
    signal: AbortSignal,
    on: EphemeralHooks,
  ): Promise<void> {
    const rec: ContainerRecord = { name: ec.name, image: ec.image ?? '', backoffMs: 0 };
    vp.containers.set(ec.name, rec);
    on.changed();
    try {
      validateEphemeralContainer(vp.pod, ec);
    } catch (err) {
      return this.refused(vp, rec, errorMessage(err), on);
    }
    while (!signal.aborted && vp.stage === 'created') {
      try {
        await this.join(vp, ec, rec, signal, on);
        rec.waiting = undefined;
        rec.backoffMs = 0;
        on.changed();
        on.poke();
        return;
      } catch (err) {
        if (signal.aborted) return;
        const message = errorMessage(err);
        this.log.warn(
          { pod: podName(vp), container: ec.name, err: message },
          'ephemeral container',
        );
        if (err instanceof ImagePullError) {
          rec.waiting = { reason: err.neverPull ? 'ErrImageNeverPull' : 'ErrImagePull', message };
          on.event(containerEvents.pullFailed(ec.name, err.image, message));
        } else if (errorKind(err) === 'InvalidInput' && !(err instanceof ContainerConfigError)) {
          // The VCH will never run it as asked (a target a pod VM cannot join).
          return this.refused(vp, rec, message, on);
        } else {
          const reason =
            err instanceof ContainerConfigError
              ? 'CreateContainerConfigError'
              : 'CreateContainerError';
          rec.waiting = { reason, message };
          on.event(containerEvents.error(ec.name, message));
        }
        on.changed();
        const now = Date.now();
        await sleep(nextAttempt(rec, now) - now, signal);
      }
    }
  }

  /** Pull, config, one commit; the task's id on the record. Adopts a task joined before. */
  private async join(
    vp: VicPod,
    ec: k8s.V1EphemeralContainer,
    rec: ContainerRecord,
    signal: AbortSignal,
    on: EphemeralHooks,
  ): Promise<void> {
    // Joined before vic-kubelet restarted (the pod's annotation predates it): the same task.
    const had = (await this.isolation.info(vp.id!)).tasks?.find((t) => t.name === ec.name);
    if (had) {
      rec.taskId = had.id;
      return;
    }
    const pod = vp.pod;
    const c = ec as k8s.V1Container;
    const images = await this.creator.pullImages(pod, signal, [ec.name], on.event);
    signal.throwIfAborted();
    const image = images.get(ec.name)!;
    const { task, vars } = await this.creator.taskConfigFor(pod, c, image, on.event);
    const target = ec.targetContainerName || undefined;
    rec.taskId = await retryOnConflict(async () => {
      let h = await this.isolation.handle(vp.id!);
      h = await this.isolation.addImageToHandle(h, {
        deltaID: ec.name,
        imageID: image.id,
        repoName: ec.image,
      });
      const joined = await this.isolation.createHandleTask(h, {
        ...task,
        ...(target && { pidNamespaceOf: target }),
      });
      await this.isolation.commitHandle(
        await this.creator.joinVolumes(joined.handle, pod, c, vars),
      );
      return joined.id;
    });
    this.log.info({ pod: podName(vp), container: ec.name, target }, 'ephemeral container added');
  }

  private refused(vp: VicPod, rec: ContainerRecord, message: string, on: EphemeralHooks): void {
    this.log.warn(
      { pod: podName(vp), container: rec.name, err: message },
      'ephemeral container refused',
    );
    rec.waiting = { reason: 'CreateContainerError', message };
    on.event(containerEvents.error(rec.name, message));
    on.changed();
  }
}

const podName = (vp: VicPod) => `${vp.pod.metadata?.namespace}/${vp.pod.metadata?.name}`;
