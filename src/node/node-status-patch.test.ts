import { describe, expect, it } from 'vitest';
import { nodeStatusPatch } from './node-status-patch.js';

describe('nodeStatusPatch', () => {
  it("keeps another's extended resource allocatable, and ours as we say", () => {
    const patch = nodeStatusPatch(
      { capacity: { cpu: '4', memory: '8Gi' }, allocatable: { cpu: '4', memory: '8Gi' } },
      {
        status: {
          capacity: { cpu: '2', memory: '4Gi', 'example.com/dongle': '4' },
          allocatable: { cpu: '2', memory: '4Gi' },
        },
      },
    );
    // capacity is only ours: the patch merges it into what is there, leaving the dongle.
    expect(patch.status.capacity).toEqual({ cpu: '4', memory: '8Gi' });
    expect(patch.status.allocatable).toEqual({
      cpu: '4',
      memory: '8Gi',
      'example.com/dongle': '4',
    });
  });

  it('takes an allocatable others set for their resource over its capacity', () => {
    const patch = nodeStatusPatch(
      { capacity: { cpu: '4' } },
      { status: { capacity: { 'x.io/y': '10' }, allocatable: { 'x.io/y': '8' } } },
    );
    expect(patch.status.allocatable).toEqual({ cpu: '4', 'x.io/y': '8' });
  });
});
