import { describe, expect, it } from 'vitest';
import { conditionEvents } from './node-events.js';

const cond = (type: string, status: string) => ({ type, status });

describe('conditionEvents', () => {
  it('reports every condition on the first status, then only changes', () => {
    const first = [cond('Ready', 'True'), cond('DiskPressure', 'False')];
    expect(conditionEvents('n1', undefined, first).map((e) => e.reason)).toEqual([
      'NodeReady',
      'NodeHasNoDiskPressure',
    ]);
    expect(conditionEvents('n1', first, first)).toEqual([]);
    const next = [cond('Ready', 'False'), cond('DiskPressure', 'True')];
    expect(conditionEvents('n1', first, next)).toEqual([
      { type: 'Normal', reason: 'NodeNotReady', message: 'Node n1 status is now: NodeNotReady' },
      {
        type: 'Warning',
        reason: 'NodeHasDiskPressure',
        message: 'Node n1 status is now: NodeHasDiskPressure',
      },
    ]);
  });

  it('says nothing of conditions the kubelet has no Event for', () => {
    expect(conditionEvents('n1', undefined, [cond('NetworkUnavailable', 'False')])).toEqual([]);
  });
});
