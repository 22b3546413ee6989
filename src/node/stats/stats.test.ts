// The Summary and /metrics/resource renderings of a usage report: field names of the kubelet's
// stats/v1alpha1, usageNanoCores from successive samples (and since start on the first), pod
// sums, and a Prometheus text where stopped containers are left out, never reported as 0.
import { describe, expect, it } from 'vitest';
import { CpuRates } from './cpu-rate.js';
import { escapeLabel, resourceMetrics } from './resource-metrics.js';
import { SummaryBuilder } from './summary.js';
import type { NodeUsage } from './usage.js';

const mem = (ws: number) => ({
  usageBytes: ws + 100,
  workingSetBytes: ws,
  rssBytes: ws - 10,
  pageFaults: 5,
  majorPageFaults: 1,
});
const fs = (used: number) => ({
  usedBytes: used,
  inodesUsed: 2,
  capacityBytes: 1000,
  availableBytes: 400,
  inodes: 50,
  inodesFree: 30,
});

function usage(t: string, cpuNs: number): NodeUsage {
  return {
    startTime: '2026-01-01T00:00:00.000Z',
    time: t,
    cpu: { usageCoreNanoSeconds: 5e12 + cpuNs },
    memory: { ...mem(4000), availableBytes: 9000 },
    fs: fs(600),
    pods: [
      {
        namespace: 'ns',
        name: 'web',
        uid: 'u1',
        startTime: '2026-01-01T00:00:00.000Z',
        time: t,
        interfaces: [{ name: 'eth0', rxBytes: 10, rxErrors: 0, txBytes: 20, txErrors: 1 }],
        containers: [
          {
            name: 'busy',
            startTime: '2026-01-01T00:00:00.000Z',
            time: t,
            cpu: { usageCoreNanoSeconds: cpuNs },
            memory: mem(3000),
            processes: 2,
            rootfs: fs(8),
            logs: fs(4),
          },
          // Exited: no CPU or memory.
          { name: 'done', startTime: '2026-01-01T00:00:00.000Z', time: t, logs: fs(1) },
        ],
      },
    ],
  };
}

describe('Summary', () => {
  it('has the kubelet’s fields: node, pods, containers, network, fs, ephemeral storage', () => {
    const s = new SummaryBuilder('vk').build(usage('2026-01-01T00:00:10.000Z', 5e9));
    expect(s.node).toMatchObject({
      nodeName: 'vk',
      startTime: '2026-01-01T00:00:00.000Z',
      cpu: { time: '2026-01-01T00:00:10.000Z', usageCoreNanoSeconds: 5e12 + 5e9 },
      memory: { workingSetBytes: 4000, availableBytes: 9000, rssBytes: 3990 },
      fs: { usedBytes: 600, capacityBytes: 1000 },
      runtime: { imageFs: { usedBytes: 600 } },
    });
    const pod = s.pods[0];
    expect(pod.podRef).toEqual({ name: 'web', namespace: 'ns', uid: 'u1' });
    // First sample: the average since the container started (5 s of CPU over 10 s).
    expect(pod.containers[0].cpu).toEqual({
      time: '2026-01-01T00:00:10.000Z',
      usageNanoCores: 500_000_000,
      usageCoreNanoSeconds: 5e9,
    });
    expect(pod.containers[0]).toMatchObject({
      name: 'busy',
      memory: { workingSetBytes: 3000, usageBytes: 3100 },
      rootfs: { usedBytes: 8 },
      logs: { usedBytes: 4 },
    });
    expect(pod.containers[1]).toEqual({
      name: 'done',
      startTime: '2026-01-01T00:00:00.000Z',
      logs: { time: '2026-01-01T00:00:10.000Z', ...fs(1) },
    });
    expect(pod.cpu).toMatchObject({ usageCoreNanoSeconds: 5e9, usageNanoCores: 500_000_000 });
    expect(pod.memory).toMatchObject({ workingSetBytes: 3000 });
    expect(pod.network).toMatchObject({ name: 'eth0', rxBytes: 10, txBytes: 20, txErrors: 1 });
    expect(pod.network?.interfaces).toHaveLength(1);
    expect(pod['ephemeral-storage']).toMatchObject({ usedBytes: 13, inodesUsed: 6 });
    expect(pod.process_stats).toEqual({ process_count: 2 });
  });

  it('lists the pod’s volumes; those on the node’s disk count in its ephemeral storage', () => {
    const u = usage('2026-01-01T00:00:10.000Z', 5e9);
    const t = '2026-01-01T00:00:09.000Z';
    u.pods[0].volumes = [
      { name: 'scratch', time: t, fs: fs(100), localEphemeral: true },
      { name: 'cfg', time: t, fs: fs(7), localEphemeral: false },
    ];
    const pod = new SummaryBuilder('vk').build(u).pods[0];
    expect(pod.volume).toEqual([
      { time: t, name: 'scratch', ...fs(100) },
      { time: t, name: 'cfg', ...fs(7) },
    ]);
    // 8 + 4 + 1 of the containers, 100 of the emptyDir; not the tmpfs one.
    expect(pod['ephemeral-storage']).toMatchObject({ usedBytes: 113, inodesUsed: 8 });
    // None: the field is left out, as omitempty does.
    expect(new SummaryBuilder('vk').build(usage(t, 1)).pods[0]).not.toHaveProperty('volume');
  });

  it('rates CPU between successive samples', () => {
    const b = new SummaryBuilder('vk');
    b.build(usage('2026-01-01T00:00:10.000Z', 5e9));
    // 2 s of CPU in 4 s: half a core.
    const s = b.build(usage('2026-01-01T00:00:14.000Z', 7e9));
    expect(s.pods[0].containers[0].cpu?.usageNanoCores).toBe(500_000_000);
    const s2 = b.build(usage('2026-01-01T00:00:16.000Z', 11e9));
    expect(s2.pods[0].containers[0].cpu?.usageNanoCores).toBe(2_000_000_000);
  });
});

describe('CpuRates', () => {
  it('falls back to the average since start when the counter went back (a new instance)', () => {
    const r = new CpuRates();
    expect(r.rate('k', { usageCoreNanoSeconds: 4e9 }, 10_000, 0)).toBe(400_000_000);
    expect(r.rate('k', { usageCoreNanoSeconds: 1e9 }, 12_000, 10_000)).toBe(500_000_000);
  });

  it('forgets series that are gone', () => {
    const r = new CpuRates();
    r.rate('k', { usageCoreNanoSeconds: 1e9 }, 10_000, 0);
    r.prune(new Set());
    // Without the earlier sample: the average since start again.
    expect(r.rate('k', { usageCoreNanoSeconds: 3e9 }, 20_000, 0)).toBe(150_000_000);
  });
});

describe('/metrics/resource', () => {
  const text = resourceMetrics(usage('2026-01-01T00:00:10.000Z', 5e9));

  it('has every family metrics-server reads, stamped with the read time', () => {
    const at = Date.parse('2026-01-01T00:00:10.000Z');
    expect(text).toContain('# TYPE node_cpu_usage_seconds_total counter\n');
    expect(text).toContain(`node_cpu_usage_seconds_total 5005 ${at}\n`);
    expect(text).toContain(`node_memory_working_set_bytes 4000 ${at}\n`);
    const l = '{container="busy",namespace="ns",pod="web"}';
    expect(text).toContain(`container_cpu_usage_seconds_total${l} 5 ${at}\n`);
    expect(text).toContain(`container_memory_working_set_bytes${l} 3000 ${at}\n`);
    expect(text).toContain(`container_start_time_seconds${l} 1767225600 ${at}\n`);
    expect(text).toContain(`pod_cpu_usage_seconds_total{namespace="ns",pod="web"} 5 ${at}\n`);
    expect(text).toContain(`pod_memory_working_set_bytes{namespace="ns",pod="web"} 3000 ${at}\n`);
    expect(text).toContain('resource_scrape_error 0\n');
  });

  it('leaves out containers that do not run, instead of zeros', () => {
    expect(text).not.toContain('container="done"');
    expect(text).not.toMatch(/ 0 \d+\n/);
  });

  it('says resource_scrape_error 1 when the provider failed', () => {
    const failed = resourceMetrics(undefined);
    expect(failed).toContain('resource_scrape_error 1\n');
    expect(failed).not.toMatch(/^node_cpu_usage_seconds_total /m);
  });

  it('escapes label values', () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});
