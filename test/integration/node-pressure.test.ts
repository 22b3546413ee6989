// Node pressure end to end: `vic-kubelet node` (embedded VCH, runc) whose nodefs threshold is
// set above what its file system has free (--eviction-hard nodefs.available<99.999%) reports
// DiskPressure (and the node lifecycle controller taints it node.kubernetes.io/disk-pressure),
// records NodeHasDiskPressure, and evicts its pods one at a time in the kubelet's order: the
// BestEffort pod first, while the Burstable one still runs; each ends Failed with reason Evicted.
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({
  prefix: 'pressure',
  extra: ['--eviction-hard', 'nodefs.available<99.999%', '--node-status-update-frequency', '1s'],
  beforeNode: async () => {
    // Both pods wait for the node, so it sees them at once when it starts.
    await core.createNamespacedPod({
      namespace,
      body: boundPod('burstable', { requests: { memory: '10Mi' } }),
    });
    await core.createNamespacedPod({ namespace, body: boundPod('besteffort') });
  },
});
const { core, namespace, nodeName } = vic;

/** A pod bound to the node by name (it is there before the node starts). */
function boundPod(name: string, resources?: k8s.V1ResourceRequirements): k8s.V1Pod {
  return {
    metadata: { name, namespace },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'app',
          image: vic.image,
          command: ['sh', '-c', 'sleep 600'],
          ...(resources && { resources }),
        },
      ],
    },
  };
}

const read = (name: string) => core.readNamespacedPod({ name, namespace });

describe('a node past nodefs.available', () => {
  it('reports DiskPressure, is tainted, and evicts the BestEffort pod first', async () => {
    const n = await until(
      'DiskPressure True',
      async () => {
        const got = await core.readNode({ name: nodeName });
        const c = got.status?.conditions?.find((x) => x.type === 'DiskPressure');
        return c?.status === 'True' && got;
      },
      30_000,
    );
    expect(n.status!.conditions!.find((c) => c.type === 'DiskPressure')).toMatchObject({
      reason: 'KubeletHasDiskPressure',
      message: 'kubelet has disk pressure',
    });
    expect(n.status!.conditions!.find((c) => c.type === 'MemoryPressure')?.status).toBe('False');
    const evicted = await until(
      'the BestEffort pod evicted',
      async () => {
        const p = await read('besteffort');
        return p.status?.phase === 'Failed' && p;
      },
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${vic.node.output().slice(-3000)}`);
    });
    expect(evicted.status).toMatchObject({
      reason: 'Evicted',
      message: 'The node was low on resource: ephemeral-storage. ',
    });
    // Not the Burstable one, not yet: one pod at a time, in order.
    expect((await read('burstable')).status?.phase).not.toBe('Failed');
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=besteffort,reason=Evicted',
    });
    expect(events.items[0]).toMatchObject({
      type: 'Warning',
      source: { component: 'vic-kubelet' },
    });
    // The node lifecycle controller's taint for the condition, as on any kubelet's node.
    await until(
      'the disk-pressure taint',
      async () =>
        (await core.readNode({ name: nodeName })).spec?.taints?.some(
          (t) => t.key === 'node.kubernetes.io/disk-pressure' && t.effect === 'NoSchedule',
        ),
      30_000,
    );
    const nodeEvents = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: `involvedObject.name=${nodeName},reason=NodeHasDiskPressure`,
    });
    expect(nodeEvents.items).toHaveLength(1);
    // The pressure stays: the Burstable pod goes next.
    await until(
      'the Burstable pod evicted next',
      async () => (await read('burstable')).status?.reason === 'Evicted',
      60_000,
    );
  }, 180_000);
});
