// A pod update that changes a container's image, as the kubelet handles it: the container is
// killed (Event Killing: "Container app definition changed, will be restarted", its stop signal
// and the pod's grace period), the new image pulled, and the container recreated from it on the
// VCH — one commit of a task remove and a new image and task join under the same name, VIC's
// handle model — then started by the pod's monitor. Its restartCount goes on from the old one.
import type * as k8s from '@kubernetes/client-node';
import { errorMessage } from '../../../node/errors.js';
import type { PodEvent } from '../../../node/provider.js';
import type { Logger } from '../../../logging/logger.js';
import type { VicPod } from '../cache/vic-pod.js';
import type { IsolationProxy } from '../proxy/isolation-proxy.js';
import { allContainers, roleOf } from './init-sequence.js';
import type { PodCreator } from './pod-creator.js';
import { PodStopper, SIGKILL } from './pod-stopper.js';
import { terminatedState } from './pod-status.js';
import { retryOnConflict, sleep } from './retry.js';

/** The containers of `vp` whose image `wanted` changes and that run again with it. */
export function changedImages(vp: VicPod, wanted: k8s.V1Pod): k8s.V1Container[] {
  return allContainers(wanted.spec).filter((c) => {
    const have = vp.containers.get(c.name);
    if (!have || have.image === c.image) return false;
    // A regular init container is not run again once it has succeeded (as the kubelet).
    return roleOf(wanted.spec, c.name) !== 'init';
  });
}

export class ImageUpdater {
  private readonly stopper: PodStopper;

  constructor(
    private readonly creator: PodCreator,
    private readonly isolation: IsolationProxy,
    private readonly log: Logger,
  ) {
    this.stopper = new PodStopper(isolation);
  }

  /**
   * Recreates the container, trying again with back-off (10 s, doubling, at most 5 min) until
   * it is done, the pod goes (`signal`), or a later update changed its image again.
   */
  async replaceUntilDone(
    vp: VicPod,
    c: k8s.V1Container,
    signal: AbortSignal,
    on: { event: (e: PodEvent) => void; changed: () => void },
  ): Promise<void> {
    const rec = vp.containers.get(c.name)!;
    for (let delay = 10_000; ; delay = Math.min(delay * 2, 300_000)) {
      const wanted = allContainers(vp.pod.spec).find((x) => x.name === c.name);
      if (signal.aborted || vp.stage !== 'created' || wanted?.image !== c.image) return;
      if (rec.image === c.image) return;
      try {
        await this.replace(vp, c, on.event);
        on.changed();
        return;
      } catch {
        on.changed();
        await sleep(delay, signal);
      }
    }
  }

  /** Recreates container `c` of the created pod `vp` (whose spec is the new one) from its image. */
  async replace(vp: VicPod, c: k8s.V1Container, onEvent: (e: PodEvent) => void): Promise<void> {
    const rec = vp.containers.get(c.name)!;
    const pod = vp.pod;
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    rec.replacing = true;
    try {
      const images = await this.creator.pullImages(pod, undefined, [c.name], onEvent);
      onEvent({
        type: 'Normal',
        reason: 'Killing',
        message: `Container ${c.name} definition changed, will be restarted`,
        container: c.name,
      });
      const info = await this.isolation.info(vp.id!);
      const old = info.tasks?.find((t) => t.name === c.name);
      if (old?.processConfig.status === 'running') {
        const grace = pod.spec?.terminationGracePeriodSeconds ?? 30;
        await this.stopper.stopTasks(vp.id!, [old], grace);
        const now = (await this.isolation.info(vp.id!)).tasks?.find((t) => t.id === old.id);
        if (now?.processConfig.status === 'running') {
          await this.isolation.signal(old.id, SIGKILL);
          await this.isolation.wait(old.id, 30);
        }
      }
      const ended = old && (await this.isolation.info(vp.id!)).tasks?.find((t) => t.id === old.id);
      const image = images.get(c.name)!;
      const { task: config, vars } = await this.creator.taskConfigFor(pod, c, image, onEvent);
      const id = await retryOnConflict(async () => {
        let h = await this.isolation.handle(vp.id!);
        if (old) h = await this.isolation.removeTask(h, old.id);
        h = await this.isolation.addImageToHandle(h, {
          deltaID: c.name,
          imageID: image.id,
          repoName: c.image,
        });
        const joined = await this.isolation.createHandleTask(h, config);
        // Its volumes again: a task made anew has none of the old one's mounts.
        await this.isolation.commitHandle(
          await this.creator.joinVolumes(joined.handle, pod, c, vars),
        );
        return joined.id;
      });
      if (ended) {
        const t = terminatedState(ended);
        rec.lastTermination = {
          exitCode: t.exitCode,
          reason: t.reason ?? 'Error',
          startedAt: t.startedAt,
          finishedAt: t.finishedAt,
        };
        rec.restartsBefore = (rec.restartsBefore ?? 0) + ended.restartCount + 1;
      }
      rec.taskId = id;
      rec.image = c.image ?? '';
      rec.backoffMs = 0;
      rec.restartDueAt = undefined;
      rec.waiting = undefined;
      this.log.info({ pod: key, container: c.name, image: c.image }, 'container image changed');
    } catch (err) {
      this.log.warn({ pod: key, container: c.name, err: errorMessage(err) }, 'image change failed');
      onEvent({
        type: 'Warning',
        reason: 'Failed',
        message: `Error: changing the image of container ${c.name}: ${errorMessage(err)}`,
      });
      throw err;
    } finally {
      rec.replacing = false;
    }
  }
}
