// Host capacity for the node's capacity: CPUs and memory (the host's, or the cgroup's limit
// when this VCH runs in a smaller cgroup), and the state directory's file system.
import { readFile, statfs } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';

export interface HostCapacity {
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
  diskFreeBytes: number;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** The cgroup v2 directory this process is in, if the unified hierarchy is mounted. */
async function ownCgroup(): Promise<string | undefined> {
  const self = await readText('/proc/self/cgroup');
  const line = self?.split('\n').find((l) => l.startsWith('0::'));
  return line ? `/sys/fs/cgroup${line.slice(3) === '/' ? '' : line.slice(3)}` : undefined;
}

/** `max` or a number of bytes; the lowest limit of the cgroup and its ancestors wins. */
async function cgroupMemoryLimit(dir: string): Promise<number | undefined> {
  let limit: number | undefined;
  for (let d = dir; d.startsWith('/sys/fs/cgroup'); d = d.slice(0, d.lastIndexOf('/'))) {
    const v = await readText(`${d}/memory.max`);
    if (v && v !== 'max' && Number.isFinite(Number(v)))
      limit = Math.min(limit ?? Infinity, Number(v));
    if (d === '/sys/fs/cgroup') break;
  }
  return limit;
}

/** cpu.max `quota period` as a number of CPUs (rounded up), if limited. */
async function cgroupCpuLimit(dir: string): Promise<number | undefined> {
  const v = await readText(`${dir}/cpu.max`);
  const [quota, period] = v?.split(/\s+/) ?? [];
  if (!quota || quota === 'max' || !period) return undefined;
  const n = Number(quota) / Number(period);
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : undefined;
}

/** cgroup v1: the memory controller's limit as mounted here (a huge number means none). */
async function cgroupV1MemoryLimit(): Promise<number | undefined> {
  const v = Number(await readText('/sys/fs/cgroup/memory/memory.limit_in_bytes'));
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

export async function hostCapacity(stateDir: string): Promise<HostCapacity> {
  const cg = await ownCgroup();
  const memLimit = (cg ? await cgroupMemoryLimit(cg) : undefined) ?? (await cgroupV1MemoryLimit());
  const cpuLimit = cg ? await cgroupCpuLimit(cg) : undefined;
  const fs = await statfs(stateDir);
  return {
    cpus: Math.min(availableParallelism(), cpuLimit ?? Infinity),
    memoryBytes: Math.min(totalmem(), memLimit ?? Infinity),
    diskBytes: fs.blocks * fs.bsize,
    diskFreeBytes: fs.bavail * fs.bsize,
  };
}
