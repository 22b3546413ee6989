// The host's own figures, as the kubelet reports its node: CPU time of all CPUs from /proc/stat,
// memory from /proc/meminfo (working set = used minus inactive file pages, as the root cgroup
// counts it) and page faults from /proc/vmstat.
import { readFile } from 'node:fs/promises';
import { parseKeyValues } from './cgroup.js';
import type { CpuUsage, MemoryUsage } from './types.js';

/** USER_HZ: /proc/stat counts in these ticks on every Linux architecture we run on. */
const TICKS_PER_SECOND = 100;

/** The busy time of all CPUs: everything but idle and iowait (guest time is inside user). */
export function parseProcStat(text: string): CpuUsage {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  const f = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f.map((n) => (Number.isFinite(n) ? n : 0));
  const ticks =
    (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return { usageNanoSeconds: ticks * (1e9 / TICKS_PER_SECOND) };
}

/**
 * All CPUs' time, idle included, in nanoseconds: Docker's system_cpu_usage, against which
 * `docker stats` sets a container's CPU time.
 */
export function parseProcStatTotal(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  const f = (line ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  return f.reduce((n, x) => n + (Number.isFinite(x) ? x : 0), 0) * (1e9 / TICKS_PER_SECOND);
}

export async function readSystemCpuNanoSeconds(): Promise<number> {
  return parseProcStatTotal(await readFile('/proc/stat', 'utf8'));
}

/** meminfo's "Key:   123 kB" lines, in bytes (the host's facts read MemAvailable with it too). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([^:]+):\s+(\d+)(?:\s+kB)?$/.exec(line.trim());
    if (m) out.set(m[1], Number(m[2]) * (line.includes('kB') ? 1024 : 1));
  }
  return out;
}

export interface HostMemory extends MemoryUsage {
  availableBytes: number;
}

export function hostMemory(meminfo: string, vmstat: string): HostMemory {
  const m = parseMeminfo(meminfo);
  const v = parseKeyValues(vmstat);
  const total = m.get('MemTotal') ?? 0;
  const usage = Math.max(0, total - (m.get('MemFree') ?? 0));
  return {
    usageBytes: usage,
    workingSetBytes: Math.max(0, usage - (m.get('Inactive(file)') ?? 0)),
    rssBytes: m.get('AnonPages') ?? 0,
    pageFaults: v.get('pgfault') ?? 0,
    majorPageFaults: v.get('pgmajfault') ?? 0,
    limitBytes: total,
    availableBytes: m.get('MemAvailable') ?? 0,
  };
}

/** When the host booted (/proc/stat's btime, Unix seconds), as an ISO time. */
export function parseBootTime(text: string): string | undefined {
  const m = /^btime\s+(\d+)$/m.exec(text);
  return m ? new Date(Number(m[1]) * 1000).toISOString() : undefined;
}

export async function readHostUsage(): Promise<{
  cpu: CpuUsage;
  memory: HostMemory;
  bootTime: string;
}> {
  const [stat, meminfo, vmstat] = await Promise.all(
    ['/proc/stat', '/proc/meminfo', '/proc/vmstat'].map((p) => readFile(p, 'utf8')),
  );
  return {
    cpu: parseProcStat(stat),
    memory: hostMemory(meminfo, vmstat),
    bootTime: parseBootTime(stat) ?? new Date(0).toISOString(),
  };
}
