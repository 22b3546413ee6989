// The cgroup readers against fixture trees of both versions: the same paths runc's cgroupfs
// driver makes (/vic-kubelet/<id>), the figures the kubelet derives (working set = usage minus
// inactive file pages), "unlimited" limits, and the OOM kill counter of each version.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CgroupFiles,
  cgroupVersion,
  oomKillCount,
  parseKeyValues,
  parseLimit,
  readCgroupUsage,
} from './cgroup.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const V1 = join(FIXTURES, 'cgroup-v1');
const V2 = join(FIXTURES, 'cgroup-v2');

describe('cgroup v1', () => {
  const files = new CgroupFiles('/vic-kubelet/abc', V1);

  it('is told from v2 by the root', () => {
    expect(cgroupVersion(V1)).toBe(1);
    expect(files.path('cpu', 'cpuacct.usage')).toBe(`${V1}/cpuacct/vic-kubelet/abc/cpuacct.usage`);
    expect(files.path('memory', 'memory.stat')).toBe(`${V1}/memory/vic-kubelet/abc/memory.stat`);
  });

  it('reads CPU, memory (total_ figures) and processes; no limit when unlimited', async () => {
    expect(await readCgroupUsage(files)).toEqual({
      cpu: { usageNanoSeconds: 123456789 },
      memory: {
        usageBytes: 10485760,
        workingSetBytes: 10485760 - 1048576,
        rssBytes: 3145728,
        pageFaults: 2500,
        majorPageFaults: 3,
      },
      processes: 4,
    });
  });

  it('counts OOM kills from memory.oom_control', () => {
    expect(oomKillCount(files)).toBe(2);
  });

  it('answers undefined and 0 for a cgroup that is gone', async () => {
    const gone = new CgroupFiles('/vic-kubelet/gone', V1);
    expect(await readCgroupUsage(gone)).toBeUndefined();
    expect(oomKillCount(gone)).toBe(0);
  });
});

describe('cgroup v2', () => {
  const files = new CgroupFiles('/vic-kubelet/abc', V2);

  it('is detected by cgroup.controllers and has one hierarchy', () => {
    expect(cgroupVersion(V2)).toBe(2);
    expect(files.path('cpu', 'cpu.stat')).toBe(`${V2}/vic-kubelet/abc/cpu.stat`);
    expect(files.path('pids', 'pids.current')).toBe(`${V2}/vic-kubelet/abc/pids.current`);
  });

  it('reads usage_usec as nanoseconds, anon as rss, and the limit', async () => {
    expect(await readCgroupUsage(files)).toEqual({
      cpu: { usageNanoSeconds: 2_500_000_000 },
      memory: {
        usageBytes: 20971520,
        workingSetBytes: 20971520 - 6291456,
        rssBytes: 8388608,
        pageFaults: 5000,
        majorPageFaults: 12,
        limitBytes: 67108864,
      },
      processes: 3,
    });
  });

  it('counts OOM kills from memory.events', () => {
    expect(oomKillCount(files)).toBe(1);
  });
});

describe('parsing', () => {
  it('keeps numeric key-value lines only', () => {
    expect([...parseKeyValues('a 1\nb x\n\n c  22 \nd')]).toEqual([
      ['a', 1],
      ['c', 22],
    ]);
  });

  it('reads limits: max and v1 unlimited are none, garbage is none', () => {
    expect(parseLimit('max\n')).toBeUndefined();
    expect(parseLimit('9223372036854771712\n')).toBeUndefined();
    expect(parseLimit('1048576\n')).toBe(1048576);
    expect(parseLimit('-1')).toBeUndefined();
    expect(parseLimit(undefined)).toBeUndefined();
  });

  it('never reports a negative working set', async () => {
    const { usageFromV2 } = await import('./cgroup.js');
    const u = usageFromV2({
      cpuStat: 'usage_usec 1',
      memoryCurrent: '100',
      memoryStat: 'inactive_file 500',
    });
    expect(u.memory.workingSetBytes).toBe(0);
  });
});
