// A pod's volumes through one creation attempt (PodCreator calls it at each step): `prepare`
// computes every computed volume's files before anything is asked of the VCH (a missing
// mandatory ConfigMap or Secret is the container's CreateContainerConfigError, nothing is
// created); `create` makes the VCH volumes for the pod's id and writes their files; `join`
// mounts a container's volumeMounts on the handle after its task join; `discard` removes what
// was made when the attempt fails before its commit.
import type * as k8s from '@kubernetes/client-node';
import { errorKind, errorMessage } from '../../../../node/errors.js';
import type { Logger } from '../../../../logging/logger.js';
import type { VolumeStore } from '../../proxy/volume-store.js';
import type { NodeFacts } from '../container-env.js';
import type { EnvSources } from '../env-sources.js';
import { ContainerConfigError, ContainerCreateError, VolumeMountError } from '../errors.js';
import { isComputed, volumeContent, type VolumeContent } from './content.js';
import { gatherVolumeInputs } from './inputs.js';
import { mountJoins, volumeRequest } from './plan.js';
import type { TokenManager } from './service-account-token.js';

/** What volumes need beyond the pod: the VCH's volumes, the API's objects, tokens. */
export interface VolumeContext {
  store?: VolumeStore;
  /** Service-account tokens; without them a pod with a token volume waits. */
  tokens?: TokenManager;
}

/** The container a volume's failure is reported on: the first that mounts it. */
export function containerOf(pod: k8s.V1Pod, volume: string): string {
  const cs = pod.spec!.containers;
  return (cs.find((c) => c.volumeMounts?.some((m) => m.name === volume)) ?? cs[0]).name;
}

/** How a volume's content fails: the ContainerConfigError of the first container mounting it. */
export function volumeFail(pod: k8s.V1Pod, volume: string) {
  const container = containerOf(pod, volume);
  return (message: string, kind?: 'InvalidInput') =>
    new VolumeMountError(
      container,
      `MountVolume.SetUp failed for volume "${volume}": ${message}`,
      kind,
    );
}

/** Every computed volume's content, read fresh: throws the container's ContainerConfigError. */
export async function computeContents(
  pod: k8s.V1Pod,
  sources: EnvSources | undefined,
  tokens: TokenManager | undefined,
  node: NodeFacts,
): Promise<Map<string, VolumeContent>> {
  const inputs = await gatherVolumeInputs(pod, sources, tokens, node);
  const contents = new Map<string, VolumeContent>();
  for (const v of pod.spec?.volumes ?? []) {
    if (!isComputed(v)) continue;
    contents.set(v.name, volumeContent(pod, v, inputs, volumeFail(pod, v.name)));
  }
  return contents;
}

export class PodVolumes {
  private readonly made: string[] = [];

  private constructor(
    private readonly pod: k8s.V1Pod,
    private readonly store: VolumeStore | undefined,
    /** The files of each computed volume, by pod volume name. */
    readonly contents: Map<string, VolumeContent>,
    private readonly log: Logger,
  ) {}

  static async prepare(
    pod: k8s.V1Pod,
    ctx: VolumeContext,
    sources: EnvSources | undefined,
    node: NodeFacts,
    log: Logger,
  ): Promise<PodVolumes> {
    const volumes = pod.spec?.volumes ?? [];
    if (volumes.length && !ctx.store)
      throw new ContainerCreateError(
        containerOf(pod, volumes[0].name),
        'Unavailable',
        'this VCH gives no volumes',
      );
    const contents = await computeContents(pod, sources, ctx.tokens, node);
    return new PodVolumes(pod, ctx.store, contents, log);
  }

  /** Creates the pod's volumes on the VCH for the pod `podId` and writes their files. */
  async create(podId: string): Promise<void> {
    for (const v of this.pod.spec?.volumes ?? []) {
      const request = volumeRequest(this.pod, v, podId);
      try {
        await this.store!.createVolume(request).catch(async (err: unknown) => {
          // Left by an earlier attempt for this pod (its name holds the pod's uid): made anew.
          if (errorKind(err) !== 'Conflict') throw err;
          await this.store!.removeVolume(request.Name);
          await this.store!.createVolume(request);
        });
        this.made.push(request.Name);
        const content = this.contents.get(v.name);
        if (content) await this.store!.writeVolumeFiles(request.Name, content.files, content.owner);
      } catch (err) {
        throw new ContainerCreateError(
          containerOf(this.pod, v.name),
          errorKindOf(err),
          `MountVolume.SetUp failed for volume "${v.name}": ${errorMessage(err)}`,
        );
      }
    }
  }

  /** Joins the container's volumeMounts to the handle (after its task join); the new handle. */
  join(handle: string, c: k8s.V1Container, vars: Map<string, string>): Promise<string> {
    return PodVolumes.joinMounts(this.store, this.pod, handle, c, vars);
  }

  /**
   * Joins the container's volumeMounts of the pod's (existing) volumes to the handle: at create,
   * and when a container is made again (a new image).
   */
  static async joinMounts(
    store: VolumeStore | undefined,
    pod: k8s.V1Pod,
    handle: string,
    c: k8s.V1Container,
    vars: Map<string, string>,
  ): Promise<string> {
    const fail = (message: string) => new ContainerConfigError(c.name, message, 'InvalidInput');
    let h = handle;
    for (const { volume, join } of mountJoins(pod, c, vars, fail)) {
      try {
        h = await store!.joinVolume(volume, { ...join, Handle: h });
      } catch (err) {
        throw new ContainerCreateError(
          c.name,
          errorKindOf(err),
          `volume mount at ${join.MountPath}: ${errorMessage(err)}`,
        );
      }
    }
    return h;
  }

  /** Removes the volumes this attempt made (its commit did not happen). */
  async discard(): Promise<void> {
    for (const name of this.made.splice(0))
      await this.store!.removeVolume(name).catch((err: unknown) =>
        this.log.warn(
          { volume: name, err: errorMessage(err) },
          'volume of a failed creation not removed',
        ),
      );
  }
}

const errorKindOf = (err: unknown) =>
  errorKind(err) === 'InvalidInput' ? ('InvalidInput' as const) : ('Unavailable' as const);
