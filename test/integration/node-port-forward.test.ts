// kubectl port-forward end to end: the real kubectl 1.34 against the real apiserver, which
// reaches `vic-kubelet node` (an embedded VCH) over SPDY/3.1 for port-forward, as it reaches a
// kubelet. A busybox `nc` echo server in the pod, on runc and in a pod VM (the agent's
// connections over its data port); 8 connections at once, each carrying 100 MiB to the pod and
// the same back (8 MiB in the VM, which runs under TCG here), are checked byte for byte
// (sha256); a port where nothing listens gets the kubelet's error on kubectl's stderr.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const MIB = 1 << 20;
/** Bytes each connection carries each way, per runtime: a pod VM under TCG is slow. */
const PER_CONNECTION = { runc: 100 * MIB, vm: 8 * MIB };
const CONNECTIONS = 8;

const vic = useVicNode({
  prefix: 'pf',
  vm: true,
  afterNode: async () => {
    for (const [name, runtime] of [
      ['echo', undefined],
      ['vmecho', 'vm'],
    ] as const) {
      const pod = podOn(nodeName, namespace, name, {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'server',
            image: vic.image,
            // One `cat` per connection (-ll: keep listening): each echoes what it reads.
            command: ['busybox', 'nc', '-ll', '-p', '9000', '-e', 'busybox', 'cat'],
          },
        ],
      });
      if (runtime) pod.metadata!.annotations = { 'vic-kubelet.io/runtime': runtime };
      await core.createNamespacedPod({ namespace, body: pod });
    }
    for (const name of ['echo', 'vmecho'])
      await until(
        `pod ${name} to run`,
        async () => (await core.readNamespacedPod({ name, namespace })).status?.phase === 'Running',
        180_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${vic.node.output().slice(-2000)}`);
      });
  },
  setupTimeout: 400_000,
  teardownTimeout: 180_000,
});
const { cluster, core, namespace, nodeName } = vic;

/** `kubectl port-forward POD :PORT`: resolves with the local port once it listens. */
function portForward(
  pod: string,
  port: number,
): Promise<{ local: number; child: ChildProcess; stderr: () => string }> {
  const child = spawn(
    join(cluster.bin, 'kubectl'),
    ['--kubeconfig', cluster.kubeconfig, 'port-forward', '-n', namespace, pod, `:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ local: Number(m[1]), child, stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`kubectl port-forward exited ${code}: ${err}`)));
  });
}

/** Sends `data` on a connection to `port` while reading what comes back; the sha256 of that. */
function echoThrough(port: number, data: Buffer): Promise<{ sha: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const s = connect(port, '127.0.0.1');
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    s.on('end', () => resolve({ sha: hash.digest('hex'), bytes }));
    s.on('error', reject);
    s.end(data);
  });
}

describe.each([
  ['runc', 'echo'],
  ['vm', 'vmecho'],
] as const)('kubectl port-forward on a vic-kubelet node (%s)', (runtime, pod) => {
  const size = PER_CONNECTION[runtime];
  it(`carries ${size / MIB} MiB each way intact over ${CONNECTIONS} connections at once`, async () => {
    const pf = await portForward(pod, 9000);
    try {
      const inputs = Array.from({ length: CONNECTIONS }, () => randomBytes(size));
      const t0 = performance.now();
      const results = await Promise.all(inputs.map((d) => echoThrough(pf.local, d)));
      const seconds = (performance.now() - t0) / 1000;
      results.forEach((r, i) => {
        expect(r.bytes, pf.stderr()).toBe(size);
        expect(r.sha).toBe(createHash('sha256').update(inputs[i]!).digest('hex'));
      });
      console.log(
        `port-forward ${pod}: ${((2 * CONNECTIONS * size) / MIB / seconds).toFixed(0)} MiB/s (both ways, ${CONNECTIONS} connections)`,
      );
    } finally {
      pf.child.kill();
    }
  }, 400_000);

  it('a port where nothing listens gets the kubelet’s error', async () => {
    const pf = await portForward(pod, 9999);
    try {
      const r = await echoThrough(pf.local, Buffer.from('hello')).catch(() => undefined);
      expect(r?.bytes ?? 0).toBe(0);
      await until(
        'kubectl to print the error',
        async () => /error forwarding port 9999/.test(pf.stderr()),
        20_000,
      );
      expect(pf.stderr()).toMatch(/connect|refused/i);
    } finally {
      pf.child.kill();
    }
  }, 60_000);
});
