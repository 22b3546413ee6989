// An emptyDir over its sizeLimit evicts its pod (Failed, reason Evicted, the kubelet's
// message), and the eviction holds across a restart of the node: the restarted node rebuilds
// its pods from the VCH, finds the evicted one stopped, takes its terminal state from the API
// as a kubelet does, and does not start its container again (restartPolicy Always would).
import { describe, expect, it } from 'vitest';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({ prefix: 'volevict', extra: ['--runtime', 'runc'] });
const { core, namespace, nodeName } = vic;

const statusOf = async (name: string) => (await core.readNamespacedPod({ name, namespace })).status;

describe('emptyDir sizeLimit eviction', () => {
  it('evicts the pod, and it stays evicted (not restarted) after the node restarts', async () => {
    const body = podOn(nodeName, namespace, 'filler', {
      restartPolicy: 'Always',
      containers: [
        {
          name: 'app',
          image: vic.image,
          command: ['sh', '-c', 'head -c 2000000 /dev/zero > /s/f; while true; do sleep 1; done'],
          volumeMounts: [{ name: 's', mountPath: '/s' }],
        },
      ],
      volumes: [{ name: 's', emptyDir: { sizeLimit: '1Mi' } }],
    });
    await core.createNamespacedPod({ namespace, body });
    // The usage poll runs every 20 s.
    const evicted = await until(
      'the pod to be evicted',
      async () => {
        const s = await statusOf('filler');
        return s?.phase === 'Failed' && s;
      },
      90_000,
    );
    expect(evicted.reason).toBe('Evicted');
    expect(evicted.message).toBe('Usage of EmptyDir volume "s" exceeds the limit "1Mi". ');
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=filler,reason=Evicted',
    });
    expect(events.items).toHaveLength(1);

    const since = vic.node.output().length;
    await vic.node.restart();
    // A restarted monitor would start the killed container at once (its first restart).
    await new Promise((r) => setTimeout(r, 15_000));
    const after = vic.node.output().slice(since);
    expect(after).not.toMatch(/vch: container start/);
    expect(await statusOf('filler')).toMatchObject({
      phase: 'Failed',
      reason: 'Evicted',
      message: evicted.message,
    });
  }, 200_000);
});
