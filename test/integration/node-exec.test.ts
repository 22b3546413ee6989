// kubectl exec end to end: the real kubectl 1.34 against the real apiserver, which reaches
// `vic-kubelet node` (an embedded VCH on runc) over SPDY/3.1 for exec, as it reaches a kubelet.
// A command's output and exit code come back through kubectl; a user without RBAC for
// pods/exec is refused by the apiserver; a request straight to the kubelet API without
// credentials gets 401; `kubectl exec -i` passes its input through.
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubeConfigOf, podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({
  prefix: 'exec',
  afterNode: async () => {
    await core.createNamespacedPod({
      namespace,
      // Restarted by default (Always, as the API server defaults it).
      body: podOn(nodeName, namespace, 'shell', {
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'app',
            image: vic.image,
            // The test image links only sh, ls and echo: the applets the tests use are added.
            command: [
              'sh',
              '-c',
              'for a in cat sleep true; do busybox ln -s busybox /bin/$a; done; exec sleep 3600',
            ],
          },
        ],
      }),
    });
    await until(
      'the pod to run',
      async () =>
        (await core.readNamespacedPod({ name: 'shell', namespace })).status?.phase === 'Running',
      90_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${vic.node.output().slice(-2000)}`);
    });
  },
  cleanup: async () => {
    await core
      .deleteNamespacedPod({ name: 'shell', namespace, gracePeriodSeconds: 0 })
      .catch(() => {});
  },
  setupTimeout: 240_000,
  teardownTimeout: 180_000,
});
const { cluster, core, namespace, nodeName } = vic;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The cluster's kubectl with its exit code and both streams; `input` is its stdin. */
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
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  if (input !== undefined) child.stdin.end(input);
  else child.stdin.end();
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const exec = (pod: string, command: string[], flags: string[] = [], input?: string) =>
  kubectl(['exec', '-n', namespace, ...flags, pod, '--', ...command], input);

describe('kubectl exec on a vic-kubelet node (runc)', () => {
  it('prints the output and exits with the command’s exit code', async () => {
    const r = await exec('shell', ['sh', '-c', 'echo hi; echo oops >&2; exit 7']);
    expect(r.stdout).toBe('hi\n');
    expect(r.stderr).toContain('oops\n');
    expect(r.code).toBe(7);
  }, 60_000);

  it('reads a file of the container', async () => {
    const r = await exec('shell', ['cat', '/etc/hostname']);
    const st = (await core.readNamespacedPod({ name: 'shell', namespace })).status;
    expect(
      r,
      `${JSON.stringify(st?.containerStatuses)}\n${vic.node.output().slice(-3000)}`,
    ).toEqual({
      code: 0,
      stdout: 'shell\n',
      stderr: '',
    });
  }, 60_000);

  it('a user without RBAC for pods/exec is refused by the apiserver', async () => {
    // jane may read pods (kubectl exec reads the pod first) but not exec into them.
    const rbac = kubeConfigOf(cluster).makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'pod-reader' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'jane-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'jane' }],
      },
    });
    await until('jane to read pods', async () => {
      const r = await kubectl(['get', 'pod', '-n', namespace, 'shell', '--as', 'jane']);
      return r.code === 0;
    });
    const r = await exec('shell', ['true'], ['--as', 'jane']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden.*jane.*pods\/exec/i);
  }, 60_000);

  it('a request straight to the kubelet API without credentials gets 401', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: vic.node.port,
          method: 'POST',
          path: `/exec/${namespace}/shell/app?command=true&stdout=1`,
          headers: {
            Connection: 'Upgrade',
            Upgrade: 'SPDY/3.1',
            'X-Stream-Protocol-Version': 'v4.channel.k8s.io',
          },
          rejectUnauthorized: false,
        },
        (res) => resolve(res.statusCode!),
      );
      req.on('upgrade', () => reject(new Error('upgraded without credentials')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(401);
  }, 30_000);

  it('kubectl exec -i passes its input through and ends at its end', async () => {
    const r = await exec('shell', ['cat'], ['-i'], 'some input\n');
    expect(r).toEqual({ code: 0, stdout: 'some input\n', stderr: '' });
  }, 60_000);

  it('an unknown container is refused with its name', async () => {
    const r = await exec('shell', ['true'], ['-c', 'nope']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/nope/);
  }, 60_000);
});
