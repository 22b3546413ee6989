// The host's /proc figures and a namespace's /proc/net/dev, from captured texts.
import { describe, expect, it } from 'vitest';
import { hostMemory, parseBootTime, parseProcStat } from './host.js';
import { parseNetDev } from './net-dev.js';

describe('host usage', () => {
  it('counts busy CPU ticks (not idle or iowait) as nanoseconds', () => {
    const stat =
      'cpu  100 5 50 9000 40 1 4 0 0 0\ncpu0 50 2 25 4500 20 0 2 0 0 0\nbtime 1700000000\n';
    expect(parseProcStat(stat)).toEqual({ usageNanoSeconds: 160 * 10_000_000 });
    expect(parseBootTime(stat)).toBe('2023-11-14T22:13:20.000Z');
  });

  it('derives memory as the root cgroup counts it', () => {
    const meminfo =
      'MemTotal:        4000 kB\nMemFree:         1000 kB\nMemAvailable:    2500 kB\nInactive(file):   500 kB\nAnonPages:        800 kB\n';
    expect(hostMemory(meminfo, 'pgfault 77\npgmajfault 2\n')).toEqual({
      usageBytes: 3000 * 1024,
      workingSetBytes: 2500 * 1024,
      rssBytes: 800 * 1024,
      pageFaults: 77,
      majorPageFaults: 2,
      limitBytes: 4000 * 1024,
      availableBytes: 2500 * 1024,
    });
  });
});

describe('/proc/net/dev', () => {
  it('reads each interface but loopback', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0
  eth0:    1234      10    2    0    0     0          0         0     5678      20    3    0    0     0       0          0
`;
    expect(parseNetDev(text)).toEqual([
      { name: 'eth0', rxBytes: 1234, rxErrors: 2, txBytes: 5678, txErrors: 3 },
    ]);
  });

  it('skips malformed lines', () => {
    expect(parseNetDev('eth0: 1 2 3\nbad line\n')).toEqual([]);
  });
});
