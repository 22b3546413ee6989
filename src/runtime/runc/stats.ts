// The runc backend's figures: a container's cgroup (the path its OCI config gives runc, on
// cgroup v1 or v2), its writable layer, and the pod's interfaces seen through the pause process.
import type { ContainerRecord } from '../core/container-record.js';
import type { ProcessIdentity } from '../core/proc.js';
import type { ContainerSample, SandboxUsage } from '../runtime.js';
import { CgroupFiles, oomKillCount, readCgroupUsage } from '../stats/cgroup.js';
import { layerUsage } from '../stats/layer.js';
import { readNetDev } from '../stats/net-dev.js';

/** The container's cgroup path (runc's cgroupsPath, cgroupfs driver). */
export const containerCgroupPath = (id: string): string => `/vic-kubelet/${id}`;

/**
 * Whether the kernel's OOM killer struck in the container's memory cgroup (v1 or v2). Read
 * before runc deletes the cgroup.
 */
export function oomKilled(id: string): boolean {
  return oomKillCount(new CgroupFiles(containerCgroupPath(id))) > 0;
}

/** The pids in the container's cgroup (cgroup.procs: one per line), ascending. */
export async function cgroupPids(id: string): Promise<number[]> {
  const text = (await new CgroupFiles(containerCgroupPath(id)).read('pids', 'cgroup.procs')) ?? '';
  return text
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number)
    .sort((a, b) => a - b);
}

export async function containerSample(
  rec: ContainerRecord,
  dirs: { rootfs: string; upper: string },
): Promise<ContainerSample> {
  const usage =
    rec.status === 'running'
      ? await readCgroupUsage(new CgroupFiles(containerCgroupPath(rec.id)))
      : undefined;
  return { ...(usage && { usage }), rootfs: await layerUsage(rec.rootfsMode, dirs) };
}

export async function sandboxUsage(pause: ProcessIdentity | undefined): Promise<SandboxUsage> {
  const interfaces = pause ? await readNetDev(pause.pid) : undefined;
  return { interfaces: interfaces ?? [] };
}
