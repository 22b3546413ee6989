// A container's restart state across a restart of the node (and of its embedded VCH, which goes
// with it), as a kubelet keeps it by reading the runtime's records: a container that failed
// twice and then ran keeps its restartCount and its lastState (exit code, reason, message,
// times) exactly; a crash-looping one keeps its back-off (CrashLoopBackOff with the delay its
// restarts reached, not a restart at once). runc.
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({ prefix: 'rstate' });
const { core, namespace, nodeName } = vic;

const read = (name: string) => core.readNamespacedPod({ name, namespace });
const statusOf = async (name: string) => (await read(name)).status?.containerStatuses?.[0];

function pod(name: string, script: string): k8s.V1Pod {
  return podOn(nodeName, namespace, name, {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 1,
    volumes: [{ name: 'data', emptyDir: {} }],
    containers: [
      {
        name: 'app',
        image: vic.image,
        command: ['sh', '-c', script],
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      },
    ],
  });
}

describe('restart state across a node restart (runc)', () => {
  it('restartCount and lastState of a container that failed twice, then ran', async () => {
    // Runs 1 and 2 leave a message and exit 3; run 3 lives on.
    const script =
      'n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/n; ' +
      'if [ $n -le 2 ]; then echo "run $n failed" > /dev/termination-log; exit 3; fi; ' +
      'exec busybox sleep 600';
    await core.createNamespacedPod({ namespace, body: pod('twice', script) });
    const before = await until(
      'twice to run after two restarts',
      async () => {
        const s = await statusOf('twice');
        return s?.restartCount === 2 && s.state?.running && s;
      },
      90_000,
    );
    expect(before.lastState?.terminated).toMatchObject({
      exitCode: 3,
      reason: 'Error',
      message: 'run 2 failed\n',
    });

    await vic.node.restart();
    // The restarted node writes the status anew: the same restarts, the same last state.
    const after = await until(
      'the restarted node to report twice',
      async () => {
        const s = await statusOf('twice');
        return s?.state?.running && s;
      },
      60_000,
    );
    expect(after.restartCount).toBe(2);
    expect(after.containerID).toBe(before.containerID);
    expect(after.lastState).toEqual(before.lastState);
  }, 240_000);

  it('the back-off of a crash-looping container goes on where it was', async () => {
    await core.createNamespacedPod({ namespace, body: pod('loop', 'exit 1') });
    // After 2 restarts the next waits 20 s: time enough to restart the node within it.
    const before = await until(
      'loop to back off after two restarts',
      async () => {
        const s = await statusOf('loop');
        return s?.restartCount === 2 && s.state?.waiting?.reason === 'CrashLoopBackOff' && s;
      },
      120_000,
    );
    expect(before.state?.waiting?.message).toMatch(/^back-off 20s restarting failed container=app/);
    await vic.node.restart();
    const after = await until(
      'the restarted node to report loop',
      async () => {
        const s = await statusOf('loop');
        return s?.state?.waiting?.reason === 'CrashLoopBackOff' && s;
      },
      30_000,
    );
    // Not restarted at once (a fresh back-off would have), and the delay its restarts reached.
    expect(after.restartCount).toBe(2);
    expect(after.state?.waiting?.message).toMatch(/^back-off 20s restarting failed container=app/);
    expect(after.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
  }, 240_000);
});
