// kubectl debug end to end: the real kubectl 1.34 adds an ephemeral container to a running pod
// through the apiserver's `ephemeralcontainers` subresource; `vic-kubelet node` (an embedded VCH
// on runc) joins it to the pod and starts it without touching the pod's containers, reports it
// in ephemeralContainerStatuses, never restarts it, and serves its log. With --target it sees
// the target container's processes (it joined that PID namespace); without, only its own. In a
// pod VM the ephemeral container runs in the VM beside the app; --target is refused there (the
// container waits with the reason, the pod runs on).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const POD = 'target';
const VM_POD = 'target-vm';

const vic = useVicNode({
  prefix: 'debug',
  vm: true,
  afterNode: async () => {
    for (const name of [POD, VM_POD]) {
      const body = podOn(nodeName, namespace, name, {
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 1,
        // The test image links only sh, ls and echo; busybox has the rest as applets.
        containers: [{ name: 'app', image: vic.image, command: ['busybox', 'sleep', '3600'] }],
      });
      if (name === VM_POD) body.metadata!.annotations = { 'vic-kubelet.io/runtime': 'vm' };
      await core.createNamespacedPod({ namespace, body });
    }
    for (const name of [POD, VM_POD])
      await until(
        `${name} to run`,
        async () => (await pod(name)).status?.phase === 'Running',
        180_000,
      );
  },
  cleanup: async () => {
    for (const name of [POD, VM_POD])
      await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch(() => {});
  },
  setupTimeout: 360_000,
  teardownTimeout: 180_000,
});
const { cluster, core, namespace, nodeName } = vic;

const pod = (name = POD) => core.readNamespacedPod({ name, namespace });

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The cluster's kubectl; `input`, when given, is its stdin. */
function kubectl(args: string[], input?: string): Promise<Run> {
  const child = spawn(
    join(cluster.bin, 'kubectl'),
    [
      '--kubeconfig',
      cluster.kubeconfig,
      '--cache-dir',
      join(cluster.dir, 'kubectl-cache'),
      ...args,
    ],
    { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] },
  );
  if (input !== undefined) {
    child.stdin!.on('error', () => undefined); // kubectl may exit before reading it all
    child.stdin!.end(input);
  }
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** The ephemeral container's status once `done` says so (by default: it has terminated). */
async function terminated(
  name: string,
  of = POD,
  done = (s: k8s.V1ContainerStatus | undefined) => s?.state?.terminated !== undefined,
): Promise<k8s.V1ContainerStatus> {
  let last: k8s.V1ContainerStatus | undefined;
  await until(
    `ephemeral container ${name} of ${of}`,
    async () => {
      last = (await pod(of)).status?.ephemeralContainerStatuses?.find((s) => s.name === name);
      return done(last);
    },
    120_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify(last)}\n${vic.node.output().slice(-3000)}`);
  });
  return last!;
}

const debug = (name: string, flags: string[], script: string, of = POD) =>
  kubectl([
    'debug',
    '-n',
    namespace,
    of,
    `--image=${vic.image}`,
    `--container=${name}`,
    ...flags,
    '--',
    'sh',
    '-c',
    script,
  ]);

describe('kubectl debug on a vic-kubelet node (runc)', () => {
  it('starts an ephemeral container in the running pod, targeting the app: it sees its processes', async () => {
    const before = (await pod()).status!.containerStatuses![0]!;
    const r = await debug('debugger', ['--target=app'], 'echo hi; busybox ps');
    expect(r.code, r.stderr).toBe(0);
    const s = await terminated('debugger');
    expect(s.state!.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(s.containerID).toMatch(/^vic:\/\//);
    const logs = await kubectl(['logs', '-n', namespace, POD, '-c', 'debugger']);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/^hi\n/);
    // The target's process, in the PID namespace the debugger joined.
    expect(logs.stdout).toMatch(/sleep 3600/);
    // The pod's own container ran on untouched: same instance, no restart.
    const now = await pod();
    expect(now.status!.phase).toBe('Running');
    expect(now.status!.containerStatuses![0]).toMatchObject({
      containerID: before.containerID,
      restartCount: 0,
      ready: true,
    });
    expect(now.status!.containerStatuses![0]!.state!.running).toBeDefined();
  }, 120_000);

  it('kubectl debug -i attaches to the debug container: a shell reads the piped commands', async () => {
    // kubectl creates it with stdin (and stdinOnce), then attaches: the tether holds its stdin.
    const r = await kubectl(
      [
        'debug',
        '-i',
        '-n',
        namespace,
        POD,
        `--image=${vic.image}`,
        '-c',
        'shell',
        '--target=app',
        '--',
        'sh',
      ],
      'echo from-the-shell; busybox ps; exit 4\n',
    );
    expect(r.stderr).not.toMatch(/couldn't attach/);
    // Its input reached the shell: what it ran is in the container's log. (kubectl's own copy
    // of the output ends with its input, as on a kubelet: the container was not stdinOnce.)
    const logs = await kubectl(['logs', '-n', namespace, POD, '-c', 'shell']);
    expect(logs.stdout, logs.stderr).toMatch(/^from-the-shell\n/);
    expect(logs.stdout).toMatch(/sleep 3600/);
    const s = await terminated('shell');
    expect(s.state!.terminated).toMatchObject({ exitCode: 4 });
  }, 120_000);

  it('without --target it has a PID namespace of its own, the pod’s network and hostname', async () => {
    const r = await debug('loner', [], 'busybox ps; busybox hostname');
    expect(r.code, r.stderr).toBe(0);
    await terminated('loner');
    const logs = await kubectl(['logs', '-n', namespace, POD, '-c', 'loner']);
    expect(logs.stdout).toMatch(/busybox ps/);
    expect(logs.stdout).not.toMatch(/sleep 3600/);
    // The pod's UTS namespace: its hostname is the pod's name.
    expect(logs.stdout.trim().split('\n').at(-1)).toBe(POD);
  }, 120_000);

  it('is never restarted, even after a failure under restartPolicy Always', async () => {
    const r = await debug('failing', [], 'exit 3');
    expect(r.code, r.stderr).toBe(0);
    const s = await terminated('failing');
    expect(s.state!.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    // Long enough for the first restart of a crash-loop back-off (10 s).
    await new Promise((r) => setTimeout(r, 12_000));
    const again = (await pod()).status!.ephemeralContainerStatuses!.find(
      (x) => x.name === 'failing',
    )!;
    expect(again.restartCount).toBe(0);
    expect(again.state!.terminated).toMatchObject({ exitCode: 3 });
    expect(again.containerID).toBe(s.containerID);
    expect((await pod()).status!.phase).toBe('Running');
  }, 120_000);
});

describe('kubectl debug on a vic-kubelet node (vm)', () => {
  it('starts an ephemeral container in the running pod VM, beside the app', async () => {
    const before = (await pod(VM_POD)).status!.containerStatuses![0]!;
    const r = await debug('debugger', [], 'echo hi; busybox hostname', VM_POD);
    expect(r.code, r.stderr).toBe(0);
    const s = await terminated('debugger', VM_POD);
    expect(s.state!.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    const logs = await kubectl(['logs', '-n', namespace, VM_POD, '-c', 'debugger']);
    expect(logs.stdout).toBe(`hi\n${VM_POD}\n`);
    expect((await pod(VM_POD)).status!.containerStatuses![0]).toMatchObject({
      containerID: before.containerID,
      restartCount: 0,
    });
  }, 180_000);

  it('--target is refused in a pod VM: the container waits with the reason, the pod runs on', async () => {
    const r = await debug('targeting', ['--target=app'], 'busybox ps', VM_POD);
    expect(r.code, r.stderr).toBe(0);
    const s = await terminated('targeting', VM_POD, (x) => !!x?.state?.waiting?.message);
    expect(s.state!.waiting).toMatchObject({ reason: 'CreateContainerError' });
    expect(s.state!.waiting!.message).toMatch(/process namespace is not supported in a pod VM/);
    expect((await pod(VM_POD)).status!.phase).toBe('Running');
  }, 120_000);
});
