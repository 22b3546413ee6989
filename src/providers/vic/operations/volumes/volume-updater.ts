// Keeps a running pod's volumes as the kubelet does between syncs: every `intervalMs` (well
// within the minute a change may take on a kubelet) the computed volumes are made again from
// the objects they reference, read one by one by name (never listed), and from the pod as it is
// now (its labels and annotations); a volume whose files changed is rewritten with
// WriteVolumeFiles, which swaps them atomically on the VCH (a subPath mount keeps what it had).
// A token due for renewal (80 % of its lifetime) changes the files too. A source that cannot be
// read leaves the volume as it was. And an emptyDir over its sizeLimit evicts the pod.
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { errorMessage } from '../../../../node/errors.js';
import type { Logger } from '../../../../logging/logger.js';
import type { VolumeStore } from '../../proxy/volume-store.js';
import type { NodeFacts } from '../container-env.js';
import type { EnvSources } from '../env-sources.js';
import { isComputed, volumeContent, type VolumeContent } from './content.js';
import { gatherVolumeInputs } from './inputs.js';
import { sizeLimitOf, vchVolumeName } from './plan.js';
import { volumeFail } from './pod-volumes.js';
import type { TokenManager } from './service-account-token.js';

/** How often a running pod's volumes are brought up to date (ms). */
export const VOLUME_SYNC_MS = 20_000;

export interface VolumeUpdaterOptions {
  /** The pod as it is now. */
  pod: () => k8s.V1Pod;
  store: VolumeStore;
  sources?: EnvSources;
  tokens?: TokenManager;
  node: () => Promise<NodeFacts>;
  log: Logger;
  intervalMs?: number;
  /** An emptyDir is over its sizeLimit: the kubelet's eviction message. */
  onEvict: (message: string) => void;
}

const digest = (c: VolumeContent) =>
  createHash('sha256')
    .update(
      JSON.stringify([
        c.owner,
        c.files.map((f) => [f.path, f.mode, f.uid, f.data.toString('base64')]),
      ]),
    )
    .digest('hex');

/** Whether the pod has volumes that need keeping: computed ones, or a sizeLimit. */
export function needsUpdater(pod: k8s.V1Pod): boolean {
  return (pod.spec?.volumes ?? []).some((v) => isComputed(v) || v.emptyDir?.sizeLimit);
}

export class VolumeUpdater {
  private readonly written = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly o: VolumeUpdaterOptions) {}

  start(): void {
    const every = this.o.intervalMs ?? VOLUME_SYNC_MS;
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.sync());
    }, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: rewrite what changed, then check the sizeLimits. */
  async sync(): Promise<void> {
    if (this.stopped) return;
    const pod = this.o.pod();
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    try {
      const computed = (pod.spec?.volumes ?? []).filter(isComputed);
      if (computed.length) {
        const inputs = await gatherVolumeInputs(
          pod,
          this.o.sources,
          this.o.tokens,
          await this.o.node(),
        );
        for (const v of computed) {
          if (this.stopped) return;
          let content: VolumeContent;
          try {
            content = volumeContent(pod, v, inputs, volumeFail(pod, v.name));
          } catch (err) {
            // As the kubelet: the volume keeps its last content until the source is back.
            this.o.log.warn(
              { pod: key, volume: v.name, err: errorMessage(err) },
              'volume not updated',
            );
            continue;
          }
          const d = digest(content);
          if (this.written.get(v.name) === d) continue;
          await this.o.store.writeVolumeFiles(
            vchVolumeName(pod, v.name),
            content.files,
            content.owner,
          );
          this.written.set(v.name, d);
          this.o.log.debug({ pod: key, volume: v.name }, 'volume updated');
        }
      }
      for (const v of pod.spec?.volumes ?? []) {
        const limit = sizeLimitOf(v);
        if (limit === undefined || this.stopped) continue;
        const { usageBytes = 0 } = await this.o.store.getVolume(vchVolumeName(pod, v.name));
        if (usageBytes > limit) {
          this.stopped = true;
          clearInterval(this.timer);
          this.o.onEvict(
            `Usage of EmptyDir volume "${v.name}" exceeds the limit "${String(v.emptyDir!.sizeLimit)}". `,
          );
          return;
        }
      }
    } catch (err) {
      this.o.log.warn({ pod: key, err: errorMessage(err) }, 'volume sync failed; trying again');
    }
  }
}
