// A container's mounts, as asked (persona's -v/--mount/--tmpfs, portlayer's VolumeJoin), made
// into what the runtime binds: each names a VCH volume or a host path; a tmpfs becomes a memory
// volume of the container's pod, removed with it.
import type { VolumeMount } from '../../runtime/runtime.js';
import { errorKind, invalidInput } from '../errors.js';
import { hostPathExists } from './host-path.js';
import type { VolumeService } from './volume-service.js';
import type { ContainerMount } from './volume-types.js';

export interface ResolvedMounts {
  /** What the container's record keeps: tmpfs mounts made into the volumes made for them. */
  stored: ContainerMount[];
  runtime: VolumeMount[];
  /** Volumes made here (to remove if the create fails). */
  created: string[];
}

function checkDestinations(mounts: readonly ContainerMount[]): void {
  const seen = new Set<string>();
  for (const m of mounts) {
    const d = m.destination;
    if (typeof d !== 'string' || !d.startsWith('/'))
      throw invalidInput(`mount destination ${JSON.stringify(d)} is not an absolute path`);
    const clean = '/' + d.split('/').filter(Boolean).join('/');
    if (d.split('/').includes('..'))
      throw invalidInput(`mount destination ${JSON.stringify(d)} has a ".." element`);
    if (clean === '/') throw invalidInput('a volume cannot be mounted on /');
    if (seen.has(clean)) throw invalidInput(`duplicate mount point: ${clean}`);
    seen.add(clean);
  }
}

export async function resolveMounts(
  volumes: VolumeService,
  mounts: readonly ContainerMount[],
  podId: string,
  containerId: string,
): Promise<ResolvedMounts> {
  checkDestinations(mounts);
  const out: ResolvedMounts = { stored: [], runtime: [], created: [] };
  try {
    for (const [i, m] of mounts.entries()) {
      const base = {
        destination: m.destination,
        ...(m.readOnly && { readOnly: true }),
        ...(m.subPath && { subPath: m.subPath }),
      };
      if (m.type === 'bind') {
        if (!m.source?.startsWith('/'))
          throw invalidInput(`bind source ${JSON.stringify(m.source)} is not an absolute path`);
        if (!(await hostPathExists(m.source)))
          throw invalidInput(`bind source path does not exist: ${m.source}`);
        out.stored.push({ type: 'bind', source: m.source, ...base });
        out.runtime.push({ source: m.source, ...base });
      } else if (m.type === 'volume') {
        const v = await Promise.resolve()
          .then(() => volumes.get(m.source ?? ''))
          .catch((e: unknown) => {
            throw errorKind(e) === 'NotFound' ? invalidInput((e as Error).message) : e;
          });
        out.stored.push({ type: 'volume', source: v.name, ...base });
        out.runtime.push({ source: v.path, ...base });
      } else if (m.type === 'tmpfs') {
        if (m.subPath) throw invalidInput('a tmpfs mount takes no subPath');
        const v = await volumes.create({
          name: `tmpfs-${containerId}-${i}`,
          driver: 'local',
          driverArgs: {
            medium: 'memory',
            pod: podId,
            ephemeral: 'true',
            ...(m.sizeBytes && { sizeLimit: String(m.sizeBytes) }),
          },
        });
        out.created.push(v.name);
        out.stored.push({ type: 'volume', source: v.name, ...base });
        out.runtime.push({ source: v.path, ...base });
      } else {
        throw invalidInput(
          `mount type ${JSON.stringify((m as ContainerMount).type)} is not volume, bind or tmpfs`,
        );
      }
    }
    return out;
  } catch (e) {
    for (const name of out.created) await volumes.remove(name).catch(() => {});
    throw e;
  }
}
