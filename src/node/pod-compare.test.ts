import { describe, expect, it } from 'vitest';
import { specChanged, statusDiffers } from './pod-compare.js';

describe('statusDiffers', () => {
  const t = new Date('2026-01-01T10:00:00.123Z');
  const reported = {
    phase: 'Running',
    startTime: t,
    containerStatuses: [
      {
        name: 'a',
        image: 'x',
        imageID: '',
        ready: true,
        restartCount: 0,
        state: { running: { startedAt: t } },
      },
    ],
  };

  it('is false when the API already says it, to the second, with fields of its own added', () => {
    const api = JSON.parse(JSON.stringify(reported).replaceAll('.123Z', 'Z'));
    api.qosClass = 'BestEffort';
    api.containerStatuses[0].started = true;
    expect(statusDiffers(reported, api)).toBe(false);
  });

  it('is true when a field the provider set changed', () => {
    expect(statusDiffers(reported, { ...reported, phase: 'Pending' })).toBe(true);
    expect(statusDiffers(reported, { ...reported, containerStatuses: [] })).toBe(true);
    expect(statusDiffers(reported, undefined)).toBe(true);
  });
});

describe('specChanged', () => {
  const pod = (image: string, deadline?: number) => ({
    metadata: { labels: { a: 'b' } },
    spec: { containers: [{ name: 'c', image }], activeDeadlineSeconds: deadline },
  });
  it('sees images and deadlines, not labels', () => {
    expect(specChanged(pod('x'), pod('x'))).toBe(false);
    expect(specChanged(pod('x'), { ...pod('x'), metadata: { labels: { a: 'c' } } })).toBe(false);
    expect(specChanged(pod('x'), pod('y'))).toBe(true);
    expect(specChanged(pod('x'), pod('x', 30))).toBe(true);
  });

  it('sees an ephemeral container added (kubectl debug)', () => {
    const debugged = {
      ...pod('x'),
      spec: { ...pod('x').spec, ephemeralContainers: [{ name: 'debugger', image: 'busybox' }] },
    };
    expect(specChanged(pod('x'), debugged)).toBe(true);
    expect(specChanged(debugged, structuredClone(debugged))).toBe(false);
  });
});
