// A container's usage from its cgroup, on either cgroup version: v1 (a hierarchy per controller:
// cpuacct/, memory/, pids/ under /sys/fs/cgroup) and v2 (one unified hierarchy, detected by its
// cgroup.controllers file at the root). The same code reads the host's cgroups for runc and a
// guest's own for the pod VM's agent figures, and the OOM check uses it on both versions.
// cgroupfs files are the kernel's, not a container's: no container can write what is read here.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerUsage } from './types.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export type CgroupVersion = 1 | 2;

/** v2 when the unified hierarchy is mounted at the root (not only beside v1, as "hybrid"). */
export function cgroupVersion(root = CGROUP_ROOT): CgroupVersion {
  return existsSync(join(root, 'cgroup.controllers')) ? 2 : 1;
}

type Controller = 'cpu' | 'memory' | 'pids';

/** Where one cgroup's files are: `rel` is the cgroup's path, e.g. "/vic-kubelet/<id>". */
export class CgroupFiles {
  constructor(
    readonly rel: string,
    readonly root = CGROUP_ROOT,
    readonly version: CgroupVersion = cgroupVersion(root),
  ) {}

  path(controller: Controller, file: string): string {
    if (this.version === 2) return join(this.root, this.rel, file);
    // v1's CPU time is cpuacct's (often the same hierarchy as cpu, linked as cpuacct).
    return join(this.root, controller === 'cpu' ? 'cpuacct' : controller, this.rel, file);
  }

  async read(controller: Controller, file: string): Promise<string | undefined> {
    return readFile(this.path(controller, file), 'utf8').catch(() => undefined);
  }

  readSync(controller: Controller, file: string): string | undefined {
    try {
      return readFileSync(this.path(controller, file), 'utf8');
    } catch {
      return undefined;
    }
  }
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** A single number file ("123\n"); "max" and v1's huge "unlimited" value are no limit. */
export function parseLimit(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (!t || t === 'max' || !/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= 2 ** 62 ? undefined : n;
}

function parseCount(text: string | undefined): number | undefined {
  const t = text?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : undefined;
}

/** The raw files of one cgroup, as each version names them. */
export interface CgroupV1Texts {
  cpuacctUsage: string;
  memoryUsage: string;
  memoryStat: string;
  memoryLimit?: string;
  pidsCurrent?: string;
}

export interface CgroupV2Texts {
  cpuStat: string;
  memoryCurrent: string;
  memoryStat: string;
  memoryMax?: string;
  pidsCurrent?: string;
}

const workingSet = (usage: number, inactiveFile: number) => Math.max(0, usage - inactiveFile);

export function usageFromV1(t: CgroupV1Texts): ContainerUsage {
  const stat = parseKeyValues(t.memoryStat);
  const usage = parseCount(t.memoryUsage) ?? 0;
  // The total_ figures count the cgroup and its children (a container's execs stay in it).
  const get = (k: string) => stat.get(`total_${k}`) ?? stat.get(k) ?? 0;
  const processes = parseCount(t.pidsCurrent);
  return {
    cpu: { usageNanoSeconds: parseCount(t.cpuacctUsage) ?? 0 },
    memory: {
      usageBytes: usage,
      workingSetBytes: workingSet(usage, get('inactive_file')),
      rssBytes: get('rss'),
      pageFaults: get('pgfault'),
      majorPageFaults: get('pgmajfault'),
      ...optional('limitBytes', parseLimit(t.memoryLimit)),
    },
    ...optional('processes', processes),
  };
}

export function usageFromV2(t: CgroupV2Texts): ContainerUsage {
  const cpu = parseKeyValues(t.cpuStat);
  const stat = parseKeyValues(t.memoryStat);
  const usage = parseCount(t.memoryCurrent) ?? 0;
  const processes = parseCount(t.pidsCurrent);
  return {
    cpu: { usageNanoSeconds: (cpu.get('usage_usec') ?? 0) * 1000 },
    memory: {
      usageBytes: usage,
      workingSetBytes: workingSet(usage, stat.get('inactive_file') ?? 0),
      rssBytes: stat.get('anon') ?? 0,
      pageFaults: stat.get('pgfault') ?? 0,
      majorPageFaults: stat.get('pgmajfault') ?? 0,
      ...optional('limitBytes', parseLimit(t.memoryMax)),
    },
    ...optional('processes', processes),
  };
}

function optional<K extends string>(key: K, v: number | undefined): { [k in K]?: number } {
  return (v === undefined ? {} : { [key]: v }) as { [k in K]?: number };
}

/** The cgroup's usage now; undefined when it is gone (the container is not running). */
export async function readCgroupUsage(files: CgroupFiles): Promise<ContainerUsage | undefined> {
  if (files.version === 2) {
    const [cpuStat, memoryCurrent, memoryStat, memoryMax, pidsCurrent] = await Promise.all([
      files.read('cpu', 'cpu.stat'),
      files.read('memory', 'memory.current'),
      files.read('memory', 'memory.stat'),
      files.read('memory', 'memory.max'),
      files.read('pids', 'pids.current'),
    ]);
    if (cpuStat === undefined || memoryCurrent === undefined || memoryStat === undefined)
      return undefined;
    return usageFromV2({ cpuStat, memoryCurrent, memoryStat, memoryMax, pidsCurrent });
  }
  const [cpuacctUsage, memoryUsage, memoryStat, memoryLimit, pidsCurrent] = await Promise.all([
    files.read('cpu', 'cpuacct.usage'),
    files.read('memory', 'memory.usage_in_bytes'),
    files.read('memory', 'memory.stat'),
    files.read('memory', 'memory.limit_in_bytes'),
    files.read('pids', 'pids.current'),
  ]);
  if (cpuacctUsage === undefined || memoryUsage === undefined || memoryStat === undefined)
    return undefined;
  return usageFromV1({ cpuacctUsage, memoryUsage, memoryStat, memoryLimit, pidsCurrent });
}

/**
 * How often the kernel's OOM killer struck in the cgroup: v1's memory.oom_control and v2's
 * memory.events both count it as oom_kill (0 when the file is gone or says nothing).
 */
export function oomKillCount(files: CgroupFiles): number {
  const text =
    files.version === 2
      ? files.readSync('memory', 'memory.events')
      : files.readSync('memory', 'memory.oom_control');
  return text === undefined ? 0 : (parseKeyValues(text).get('oom_kill') ?? 0);
}
