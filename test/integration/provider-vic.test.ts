// The VIC provider on the real parts below the node: a VCH in this process with runc sandboxes,
// its persona and portlayer on unix sockets, images from a real registry (one with basic auth).
// The provider talks to the VCH only through its two HTTP clients, as it would to a remote one.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/logging/logger.js';
import { PersonaClient } from '../../src/providers/vic/proxy/persona-client.js';
import { PortlayerClient } from '../../src/providers/vic/proxy/portlayer-client.js';
import { parsePodManifest, runPod } from '../../src/providers/vic/run-pod.js';
import { VicProvider } from '../../src/providers/vic/vic-provider.js';
import { cleanupTestVch, startTestVch, type TestVch } from '../support/test-vch.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let dir: string;
let open: Registry;
let locked: Registry;
let locked2: Registry;
let vch: TestVch;
let image: string;
let privateImage: string;
let otherPrivateImage: string;
const providers: VicProvider[] = [];
const secrets: Record<string, k8s.V1Secret> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'provider-vic-it-'));
  open = await startRegistry();
  locked = await startRegistry({ htpasswd: { alice: 's3cret' } });
  locked2 = await startRegistry({ htpasswd: { alice: 's3cret' } });
  const layout = await buildBusyboxLayout(join(dir, 'image'));
  image = `${open.host}/busybox:1`;
  privateImage = `${locked.host}/private:1`;
  await pushImage(layout, 'busybox', image);
  otherPrivateImage = `${locked2.host}/private:1`;
  await pushImage(layout, 'busybox', privateImage, 'alice:s3cret');
  await pushImage(layout, 'busybox', otherPrivateImage, 'alice:s3cret');
  vch = await startTestVch(dir, {
    insecureRegistries: [open.host, locked.host, locked2.host],
    maxPods: 42,
  });
  const auths = { [locked.host]: { username: 'alice', password: 's3cret' } };
  secrets.regcred = {
    metadata: { name: 'regcred' },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') },
  };
}, 120_000);

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
  // Whatever a failed test left on the VCH goes, so the next test starts from nothing.
  for (const p of await vch.vch.listPods())
    await vch.vch.removePod(p.id, { force: true }).catch(() => {});
});

afterAll(async () => {
  for (const c of (await vch?.vch.listContainers({ all: true })) ?? [])
    await vch.vch.removeContainer(c.id, { force: true }).catch(() => {});
  await vch?.close();
  await open?.stop();
  await locked?.stop();
  await locked2?.stop();
  if (dir) cleanupTestVch(dir);
});

function provider() {
  const p = new VicProvider({
    isolation: new PortlayerClient(`unix://${vch.portlayerSocket}`),
    imageStore: new PersonaClient(`unix://${vch.personaSocket}`),
    nodeIP: '127.0.0.1',
    log: process.env.VIC_DEBUG ? createLogger({ level: 'debug' }) : silentLogger(),
    secrets: async (_ns, name) => secrets[name],
  });
  providers.push(p);
  const pushed: k8s.V1Pod[] = [];
  p.notifyPods((pod) => pushed.push(pod));
  return { p, pushed };
}

let seq = 0;
function pod(containers: Partial<k8s.V1Container>[], spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod {
  const name = `p${++seq}`;
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}-${Date.now()}` },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 5,
      ...spec,
      containers: containers.map((c, i) => ({ name: `c${i}`, image, ...c })),
    },
  };
}

async function until<T>(what: string, fn: () => Promise<T | false | undefined>, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const statusOf = (p: VicProvider, k: k8s.V1Pod) =>
  p.getPodStatus(k.metadata!.namespace!, k.metadata!.name!);

async function logs(p: VicProvider, k: k8s.V1Pod, c: string, o = {}) {
  let out = '';
  for await (const chunk of await p.getContainerLogs('default', k.metadata!.name!, c, o))
    out += chunk;
  return out;
}

describe('VicProvider on a real VCH', () => {
  it('runs a two-container pod: Running, both ready, env/args/workingDir from the spec, VIC-format logs', async () => {
    const { p } = provider();
    const k = pod([
      {
        name: 'web',
        command: ['sh', '-c'],
        args: [
          'echo "web $GREETING in $(pwd)"; i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done',
        ],
        env: [{ name: 'GREETING', value: 'hello' }],
        workingDir: '/tmp',
      },
      { name: 'side', command: ['sh', '-c', 'echo side >&2; sleep 300'] },
    ]);
    await p.createPod(k);
    const status = await until('Running', async () => {
      const s = await statusOf(p, k);
      return s?.phase === 'Running' && s.containerStatuses!.every((c) => c.ready) && s;
    });
    expect(status.containerStatuses!.map((c) => c.containerID)).toEqual([
      expect.stringMatching(/^vic:\/\/[0-9a-f]{64}$/),
      expect.stringMatching(/^vic:\/\/[0-9a-f]{64}$/),
    ]);
    await until('ticks', async () => (await logs(p, k, 'web')).includes('tick 4'));
    const all = await logs(p, k, 'web');
    expect(all.startsWith('web hello in /tmp\ntick 1\n')).toBe(true);
    expect(await logs(p, k, 'side')).toBe('side\n');
    expect(await logs(p, k, 'web', { tail: 2 })).toMatch(/^tick \d+\ntick \d+\n$/);
    const stamped = await logs(p, k, 'web', { tail: 1, timestamps: true });
    const ts = /^(\S+) tick (\d+)\n$/.exec(stamped)!;
    const since = BigInt(Date.parse(ts[1])) * 1_000_000n;
    const fromSince = await logs(p, k, 'web', { since });
    expect(fromSince.split('\n')[0]).toMatch(/^tick \d+$/);
    expect(Number(/^tick (\d+)/.exec(fromSince)![1])).toBeGreaterThanOrEqual(Number(ts[2]) - 1);
    // A follow gets new lines as they are written, and ends when the client goes away.
    const ac = new AbortController();
    const follow = await p.getContainerLogs('default', k.metadata!.name!, 'web', {
      follow: true,
      tail: 0,
      signal: ac.signal,
    });
    let followed = '';
    for await (const chunk of follow) {
      followed += chunk;
      if (followed.split('\n').length > 3) break;
    }
    ac.abort();
    expect(followed).toMatch(/^tick \d+\ntick \d+\ntick \d+\n/);

    await p.deletePod(k);
    await until('pod gone', async () => !(await p.getPod('default', k.metadata!.name!)));
    expect(await vch.vch.listPods()).toEqual([]);
  });

  it('restartPolicy Never: exit 3 shows terminated.exitCode 3 and the pod Failed', async () => {
    const { p } = provider();
    const k = pod([{ command: ['sh', '-c', 'echo bye; exit 3'] }], { restartPolicy: 'Never' });
    await p.createPod(k);
    const s = await until('Failed', async () => {
      const s = await statusOf(p, k);
      return s?.phase === 'Failed' && s;
    });
    expect(s.containerStatuses![0].state!.terminated).toMatchObject({
      exitCode: 3,
      reason: 'Error',
    });
    expect(s.containerStatuses![0].restartCount).toBe(0);
    expect(await logs(p, k, 'c0')).toBe('bye\n');
    await p.deletePod(k);
    await until('gone', async () => !(await p.getPod('default', k.metadata!.name!)));
  });

  it('a command that does not exist: StartError; the pod Failed under Never', async () => {
    const { p } = provider();
    const k = pod([{ command: ['nosuchcommand'] }], { restartPolicy: 'Never' });
    await p.createPod(k);
    const s = await until('Failed', async () => {
      const s = await statusOf(p, k);
      return s?.phase === 'Failed' && s;
    });
    const t = s.containerStatuses![0].state!.terminated!;
    expect(t).toMatchObject({
      reason: 'StartError',
      message: expect.stringMatching(/nosuchcommand/),
    });
    // The VCH's code for a start that failed: 127 (not found), 126 (not executable) or 128.
    expect([126, 127, 128]).toContain(t.exitCode);
    await p.deletePod(k);
    await until('gone', async () => !(await p.getPod('default', k.metadata!.name!)));
  });

  it('restartPolicy Always: a crashing container restarts, then backs off (CrashLoopBackOff)', async () => {
    const { p } = provider();
    const k = pod([{ command: ['sh', '-c', 'echo crash; exit 2'] }]);
    await p.createPod(k);
    const s = await until('CrashLoopBackOff', async () => {
      const s = await statusOf(p, k);
      return s?.containerStatuses?.[0].state?.waiting?.reason === 'CrashLoopBackOff' && s;
    });
    const c = s.containerStatuses![0];
    expect(c.restartCount).toBe(1);
    expect(c.lastState!.terminated).toMatchObject({ exitCode: 2, reason: 'Error' });
    expect(s.phase).toBe('Running');
    // As on a kubelet: the current instance's log, and the one before it with previous.
    expect(await logs(p, k, 'c0')).toBe('crash\n');
    expect(await logs(p, k, 'c0', { previous: true })).toBe('crash\n');
    await p.deletePod(k);
    await until('gone', async () => !(await p.getPod('default', k.metadata!.name!)));
  });

  it('an image that does not exist: ErrImagePull, then ImagePullBackOff; nothing on the VCH', async () => {
    const { p, pushed } = provider();
    const k = pod([{ image: `${open.host}/nosuch:1` }]);
    await p.createPod(k);
    const waiting = (s?: k8s.V1PodStatus) => s?.containerStatuses?.[0].state?.waiting;
    await until(
      'ErrImagePull',
      async () => waiting(await statusOf(p, k))?.reason === 'ErrImagePull',
    );
    expect(waiting(await statusOf(p, k))!.message).toMatch(/nosuch/);
    await until(
      'ImagePullBackOff',
      async () => waiting(await statusOf(p, k))?.reason === 'ImagePullBackOff',
      5000,
    );
    expect(pushed.some((x) => waiting(x.status)?.reason === 'ErrImagePull')).toBe(true);
    expect((await statusOf(p, k))!.phase).toBe('Pending');
    expect(await vch.vch.listPods()).toEqual([]);
    await p.deletePod(k);
    await until('gone', async () => !(await p.getPod('default', k.metadata!.name!)));
  });

  it('pulls from a registry with basic auth with the imagePullSecret', async () => {
    const { p } = provider();
    const k = pod(
      [{ image: privateImage, imagePullPolicy: 'Always', command: ['sh', '-c', 'sleep 300'] }],
      {
        imagePullSecrets: [{ name: 'regcred' }],
      },
    );
    await p.createPod(k);
    await until('Running', async () => (await statusOf(p, k))?.phase === 'Running', 30_000);
    await p.deletePod(k);
    await until('gone', async () => !(await p.getPod('default', k.metadata!.name!)));
  });

  it('fails the pull from a registry with basic auth without an imagePullSecret', async () => {
    const { p } = provider();
    const k = pod([
      { image: otherPrivateImage, imagePullPolicy: 'Always', command: ['sh', '-c', 'sleep 300'] },
    ]);
    await p.createPod(k);
    const s = await until('ErrImagePull', async () => {
      const s = await statusOf(p, k);
      return s?.containerStatuses?.[0].state?.waiting?.reason === 'ErrImagePull' && s;
    });
    expect(s.containerStatuses![0].state!.waiting!.message).toMatch(/unauthorized/);
    await p.deletePod(k);
    await until('gone', async () => !(await p.getPod('default', k.metadata!.name!)));
  });

  // Credentials are the pull's own: on one VCH a pull without the secret after one with it
  // fails (imagePullPolicy Always pulls even though the image is there), and one with it after
  // one without works.
  it('on one registry: without the secret fails, with it works, then without fails again', async () => {
    const { p } = provider();
    const spec = (secret: boolean) =>
      pod(
        [{ image: privateImage, imagePullPolicy: 'Always', command: ['sh', '-c', 'sleep 300'] }],
        {
          imagePullSecrets: secret ? [{ name: 'regcred' }] : [],
        },
      );
    const waiting = async (k: k8s.V1Pod) =>
      (await statusOf(p, k))?.containerStatuses?.[0].state?.waiting?.reason;
    const first = spec(false);
    await p.createPod(first);
    await until('ErrImagePull', async () => (await waiting(first)) === 'ErrImagePull');
    const second = spec(true);
    await p.createPod(second);
    await until('Running', async () => (await statusOf(p, second))?.phase === 'Running', 30_000);
    const third = spec(false);
    await p.createPod(third);
    await until('ErrImagePull', async () => (await waiting(third)) === 'ErrImagePull');
    for (const k of [first, second, third]) await p.deletePod(k);
  });

  it('deletePod stops with SIGTERM, then SIGKILL after the grace period, and removes the pod', async () => {
    const { p } = provider();
    const k = pod(
      [
        {
          name: 'polite',
          command: ['sh', '-c', 'trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done'],
        },
        { name: 'stubborn', command: ['sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'] },
      ],
      { terminationGracePeriodSeconds: 2 },
    );
    await p.createPod(k);
    await until('Running', async () => (await statusOf(p, k))?.phase === 'Running');
    const t0 = Date.now();
    await p.deletePod(k);
    const s = await until('stopped', async () => {
      const s = await statusOf(p, k);
      return s?.containerStatuses?.every((c) => c.state?.terminated) && s;
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(s.containerStatuses!.map((c) => c.state!.terminated!.exitCode)).toEqual([0, 137]);
    await until('gone', async () => !(await p.getPod('default', k.metadata!.name!)));
    expect(await vch.vch.listContainers({ all: true })).toEqual([]);
  });

  it('node capacity is /vch/info', async () => {
    const { p } = provider();
    const info = await new PortlayerClient(`unix://${vch.portlayerSocket}`).vchInfo();
    const s = await p.nodeStatus();
    expect(s.capacity).toEqual({
      cpu: String(info.numCPUs),
      memory: `${info.memory}Mi`,
      pods: '42',
      'ephemeral-storage': String(info.storageBytes),
    });
    expect(s.conditions[0]).toMatchObject({ type: 'Ready', status: 'True' });
  });

  it('a VCH restart: pods keep running, an exit while it was down is seen after, the provider carries on', async () => {
    const { p } = provider();
    const k = pod(
      [
        { name: 'short', command: ['sh', '-c', 'echo short; sleep 2; exit 4'] },
        { name: 'long', command: ['sh', '-c', 'echo long; sleep 300'] },
      ],
      { restartPolicy: 'Never' },
    );
    await p.createPod(k);
    await until('Running', async () => (await statusOf(p, k))?.phase === 'Running');
    const longId = (await statusOf(p, k))!.containerStatuses![1].containerID;
    await vch.close();
    await new Promise((r) => setTimeout(r, 3000)); // "short" exits while the VCH is down
    vch = await vch.reopen();
    const s = await until('the exit seen', async () => {
      const s = await statusOf(p, k);
      return s?.containerStatuses?.[0].state?.terminated && s;
    });
    expect(s.containerStatuses![0].state!.terminated).toMatchObject({ exitCode: 4 });
    expect(s.containerStatuses![1]).toMatchObject({
      containerID: longId,
      restartCount: 0,
      state: { running: {} },
    });
    expect(await logs(p, k, 'short')).toBe('short\n');
    await p.deletePod(k);
    await until('gone', async () => !(await p.getPod('default', k.metadata!.name!)));
  });

  it('runs one pod without a cluster (vic-kubelet run): output by container, exit code, nothing left', async () => {
    const { p } = provider();
    const k = parsePodManifest(
      JSON.stringify({
        kind: 'Pod',
        metadata: { name: 'once' },
        spec: {
          restartPolicy: 'Never',
          containers: [
            { name: 'a', image, command: ['sh', '-c', 'echo one; echo oops >&2; sleep 1'] },
            { name: 'b', image, command: ['sh', '-c', 'echo two; sleep 1; exit 5'] },
          ],
        },
      }),
      'once.json',
    );
    let out = '';
    let err = '';
    const sink = (f: (s: string) => void) =>
      new Writable({
        write(chunk, _enc, done) {
          f(String(chunk));
          done();
        },
      });
    const code = await runPod({
      provider: p,
      pod: k,
      out: sink((s) => (out += s)),
      err: sink((s) => (err += s)),
    });
    expect(code).toBe(5);
    expect(out.split('\n').sort()).toEqual(['', '[a] one', '[b] two']);
    expect(err).toContain('[a] oops\n');
    expect(err).toMatch(
      /pod default\/once: Failed \(a: exited 0 \(Completed\), b: exited 5 \(Error\)\)/,
    );
    expect(await vch.vch.listPods()).toEqual([]);
  });

  it('a new provider (vic-kubelet restarted) finds running pods and leaves them running', async () => {
    const first = provider();
    const k = pod([{ command: ['sh', '-c', 'echo up; sleep 300'] }]);
    await first.p.createPod(k);
    await until('Running', async () => (await statusOf(first.p, k))?.phase === 'Running');
    const before = (await statusOf(first.p, k))!.containerStatuses![0];
    await first.p.close();

    const second = provider();
    expect((await second.p.getPods()).map((x) => x.metadata!.uid)).toEqual([k.metadata!.uid]);
    const after = (await statusOf(second.p, k))!.containerStatuses![0];
    expect(after.containerID).toBe(before.containerID);
    expect(after.state!.running!.startedAt).toEqual(before.state!.running!.startedAt);
    expect(after.restartCount).toBe(0);
    expect(await logs(second.p, k, 'c0')).toBe('up\n');
    await second.p.deletePod(k);
    await until('gone', async () => !(await second.p.getPod('default', k.metadata!.name!)));
  });
});
