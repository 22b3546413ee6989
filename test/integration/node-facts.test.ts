// The node's facts end to end: `vic-kubelet node` with an embedded VCH (runc) registers with
// the kubelet's arch and os labels, ephemeral-storage in capacity and allocatable (a pod that
// requests it is scheduled and runs), the host's machine, system and boot ids, and the images
// of the VCH in status.images. Its status is patched, not replaced: an extended resource an
// operator patches into status.capacity survives the node's next status updates and shows in
// allocatable, as on a kubelet.
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({ prefix: 'facts', extra: ['--node-status-update-frequency', '1s'] });
const { core, namespace, nodeName } = vic;

const readNode = () => core.readNode({ name: nodeName });
const hostFile = (path: string) => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
};

describe('node facts on vic-kubelet node', () => {
  it('labels, ephemeral-storage and the host ids', async () => {
    const n = await readNode();
    expect(n.metadata?.labels).toMatchObject({
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/os': 'linux',
    });
    const storage = Number(n.status?.capacity?.['ephemeral-storage']);
    expect(storage).toBeGreaterThan(1 << 30);
    expect(n.status?.allocatable?.['ephemeral-storage']).toBe(String(storage));
    expect(n.status?.nodeInfo?.bootID).toBe(hostFile('/proc/sys/kernel/random/boot_id'));
    expect(n.status?.nodeInfo?.bootID).toMatch(/^[0-9a-f-]{36}$/);
    expect(n.status?.nodeInfo?.machineID).toBe(hostFile('/etc/machine-id'));
  });

  it('schedules and runs a pod that requests ephemeral-storage; its image is in status.images', async () => {
    await core.createNamespacedPod({
      namespace,
      body: podOn(nodeName, namespace, 'scratch', {
        containers: [
          {
            name: 'app',
            image: vic.image,
            command: ['sh', '-c', 'sleep 600'],
            resources: { requests: { 'ephemeral-storage': '100Mi' } },
          },
        ],
      }),
    });
    await until(
      'the pod to run',
      async () =>
        (await core.readNamespacedPod({ name: 'scratch', namespace })).status?.phase === 'Running',
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${vic.node.output().slice(-3000)}`);
    });
    const images = await until(
      'the image in status.images',
      async () => {
        const list = (await readNode()).status?.images ?? [];
        return list.some((i) => i.names?.includes(vic.image)) && list;
      },
      20_000,
    );
    const ours = images.find((i) => i.names?.includes(vic.image))!;
    expect(ours.sizeBytes).toBeGreaterThan(100_000);
  }, 90_000);

  it('keeps an extended resource an operator patches into status.capacity', async () => {
    await core.patchNodeStatus(
      {
        name: nodeName,
        body: [{ op: 'add', path: '/status/capacity/example.com~1dongle', value: '4' }],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    // The node writes its status every second: several writes later, the dongle is still there.
    const first = (await readNode()).status!.conditions!.find(
      (c) => c.type === 'Ready',
    )!.lastHeartbeatTime!;
    const after = await until(
      'three more status writes',
      async () => {
        const n = await readNode();
        const beat = n.status!.conditions!.find((c) => c.type === 'Ready')!.lastHeartbeatTime!;
        return new Date(beat).getTime() >= new Date(first).getTime() + 3000 && n;
      },
      30_000,
    );
    expect(after.status?.capacity?.['example.com/dongle']).toBe('4');
    expect(after.status?.allocatable?.['example.com/dongle']).toBe('4');
    expect(after.status?.capacity?.cpu).toBeDefined();
    // And the scheduler can place a pod that asks for it.
    await core.createNamespacedPod({
      namespace,
      body: podOn(nodeName, namespace, 'dongled', {
        containers: [
          {
            name: 'app',
            image: vic.image,
            command: ['sh', '-c', 'sleep 600'],
            resources: {
              requests: { 'example.com/dongle': '1' },
              limits: { 'example.com/dongle': '1' },
            },
          },
        ],
      }),
    });
    await until(
      'the dongle pod to be scheduled here',
      async () =>
        (await core.readNamespacedPod({ name: 'dongled', namespace })).spec?.nodeName === nodeName,
      30_000,
    );
  }, 60_000);
});
