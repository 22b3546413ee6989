import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { evictionOrder, qosClass } from './eviction-order.js';
import { DEFAULT_EVICTION_HARD, parseThresholds, thresholdsMet } from './thresholds.js';

const GiB = 2 ** 30;

describe('eviction thresholds', () => {
  it("parses the kubelet's defaults and meets them as it does", () => {
    const t = parseThresholds(DEFAULT_EVICTION_HARD);
    expect(t).toEqual([
      { signal: 'memory.available', value: { quantity: 100 * 2 ** 20 } },
      { signal: 'nodefs.available', value: { fraction: 0.1 } },
      { signal: 'imagefs.available', value: { fraction: 0.15 } },
    ]);
    const ok = { available: 50 * GiB, capacity: 100 * GiB };
    expect(thresholdsMet(t, { 'nodefs.available': ok, 'imagefs.available': ok })).toEqual([]);
    const met = thresholdsMet(t, {
      'memory.available': { available: 99 * 2 ** 20, capacity: GiB },
      'nodefs.available': { available: 9 * GiB, capacity: 100 * GiB },
      'imagefs.available': { available: 14 * GiB, capacity: 100 * GiB },
    });
    expect(met.map((m) => m.signal)).toEqual([
      'memory.available',
      'nodefs.available',
      'imagefs.available',
    ]);
    expect(parseThresholds('')).toEqual([]);
  });

  it('refuses what it cannot measure or read, with one clear line', () => {
    expect(() => parseThresholds('nodefs.inodesFree<5%')).toThrow(
      /not a signal this node measures/,
    );
    expect(() => parseThresholds('memory.available>1Gi')).toThrow(/want SIGNAL<QUANTITY/);
    expect(() => parseThresholds('memory.available<lots')).toThrow(/is not a quantity/);
    expect(() => parseThresholds('nodefs.available<120%')).toThrow(/is not a percentage/);
  });
});

const pod = (
  name: string,
  resources: k8s.V1ResourceRequirements | undefined,
  extra: Partial<k8s.V1PodSpec> = {},
  created = '2026-01-01T00:00:00Z',
): k8s.V1Pod => ({
  metadata: { name, creationTimestamp: new Date(created) },
  spec: { containers: [{ name: 'c', ...(resources && { resources }) }], ...extra },
});

describe('eviction order', () => {
  const best = pod('best', undefined);
  const burst = pod('burst', { requests: { memory: '100Mi' } });
  const guaranteed = pod('guaranteed', {
    requests: { cpu: '1', memory: '1Gi' },
    limits: { cpu: '1', memory: '1Gi' },
  });

  it('tells the QoS classes apart', () => {
    expect(qosClass(best)).toBe('BestEffort');
    expect(qosClass(burst)).toBe('Burstable');
    expect(qosClass(guaranteed)).toBe('Guaranteed');
    expect(qosClass(pod('limits-only', { limits: { cpu: '1', memory: '1Gi' } }))).toBe(
      'Guaranteed',
    );
  });

  it('BestEffort first, then Burstable, then Guaranteed; lower priority first within a class', () => {
    const names = (ps: k8s.V1Pod[]) => evictionOrder(ps).map((p) => p.metadata!.name);
    expect(names([guaranteed, burst, best])).toEqual(['best', 'burst', 'guaranteed']);
    const important = pod('important', undefined, { priority: 1000 });
    expect(names([important, best])).toEqual(['best', 'important']);
    const young = pod('young', undefined, {}, '2026-06-01T00:00:00Z');
    expect(names([best, young])).toEqual(['young', 'best']);
  });
});
