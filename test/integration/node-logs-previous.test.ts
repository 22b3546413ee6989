// kubectl logs --previous end to end, on runc and on vm: a crash-looping container (each
// instance prints one line of its own and exits 1) is restarted by the node; `kubectl logs`
// shows only the current instance's line, `--previous` only the one before it (with
// --timestamps and --tail as for the current log); a container that never restarted has no
// previous log, in the kubelet's words.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({
  prefix: 'prev',
  vm: true,
  afterNode: async () => {
    for (const [name, runtime] of [
      ['crash', 'runc'],
      ['crash-vm', 'vm'],
    ] as const) {
      const pod = podOn(nodeName, namespace, name, {
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'app',
            image: vic.image,
            command: ['sh', '-c', 'echo "run $RANDOM$RANDOM"; exit 1'],
          },
        ],
      });
      if (runtime === 'vm') pod.metadata!.annotations = { 'vic-kubelet.io/runtime': 'vm' };
      await core.createNamespacedPod({ namespace, body: pod });
    }
  },
  setupTimeout: 300_000,
  teardownTimeout: 180_000,
});
const { cluster, core, namespace, nodeName } = vic;

function kubectl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(join(cluster.bin, 'kubectl'), ['--kubeconfig', cluster.kubeconfig, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const restarts = async (name: string) =>
  (await core.readNamespacedPod({ name, namespace })).status?.containerStatuses?.[0]
    ?.restartCount ?? 0;

describe.each([
  ['runc', 'crash'],
  ['vm', 'crash-vm'],
])('kubectl logs --previous (%s)', (_runtime, pod) => {
  it('shows the last instance after a crash, apart from the current one', async () => {
    await until(`${pod} to restart twice`, async () => (await restarts(pod)) >= 2, 200_000).catch(
      (e: Error) => {
        throw new Error(`${e.message}\n${vic.node.output().slice(-3000)}`);
      },
    );
    // Read both between two restarts: the same count before and after.
    let current = '';
    let previous = '';
    let stamped = '';
    await until(
      'a read between restarts',
      async () => {
        const n = await restarts(pod);
        const cur = await kubectl(['logs', '-n', namespace, pod]);
        const prev = await kubectl(['logs', '-n', namespace, pod, '--previous']);
        const ts = await kubectl(['logs', '-n', namespace, pod, '-p', '--timestamps', '--tail=1']);
        if ((await restarts(pod)) !== n || prev.code !== 0 || cur.code !== 0) return false;
        [current, previous, stamped] = [cur.stdout, prev.stdout, ts.stdout];
        return true;
      },
      120_000,
    );
    expect(previous).toMatch(/^run \d+\n$/);
    expect(current).toMatch(/^(run \d+\n)?$/);
    expect(previous).not.toBe(current);
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z run \d+\n$/);
  }, 400_000);
});

describe('kubectl logs --previous without a restart', () => {
  it('is refused in the kubelet’s words', async () => {
    await core.createNamespacedPod({
      namespace,
      body: podOn(nodeName, namespace, 'once', {
        containers: [{ name: 'app', image: vic.image, command: ['sh', '-c', 'echo one'] }],
      }),
    });
    await until('pod once to finish', async () =>
      ['Succeeded', 'Failed'].includes(
        (await core.readNamespacedPod({ name: 'once', namespace })).status?.phase ?? '',
      ),
    );
    const r = await kubectl(['logs', '-n', namespace, 'once', '--previous']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('previous terminated container "app" in pod "once" not found');
    expect((await kubectl(['logs', '-n', namespace, 'once'])).stdout).toBe('one\n');
  }, 120_000);
});
