import type * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NodeError } from '../../node/errors.js';
import { silentLogger } from '../../logging/logger.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../test/support/fake-proxies.js';
import { eventually, testPod } from '../../../test/support/pods.js';
import { VicProvider } from './vic-provider.js';

const providers: VicProvider[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(providers.splice(0).map((p) => p.close()));
});

function setup(o: { isolation?: FakeIsolationProxy; secrets?: Record<string, k8s.V1Secret> } = {}) {
  const isolation = o.isolation ?? new FakeIsolationProxy();
  const images = new FakeImageStore();
  images.addToRegistry('busybox:1');
  const provider = new VicProvider({
    isolation,
    imageStore: images,
    nodeIP: '10.0.0.9',
    log: silentLogger(),
    secrets: async (_ns, name) => o.secrets?.[name],
  });
  providers.push(provider);
  const pushed: k8s.V1Pod[] = [];
  provider.notifyPods((pod) => pushed.push(pod));
  const last = () => pushed[pushed.length - 1]?.status;
  const taskId = (pod: string, c: string) =>
    provider.cache.get('default', pod)!.containers.get(c)!.taskId!;
  return { isolation, images, provider, pushed, last, taskId };
}

const stateOf = (s: k8s.V1PodStatus | undefined, i = 0) => s?.containerStatuses?.[i]?.state;

describe('VicProvider', () => {
  it('takes a pod on at once and pushes Pending, then Running with both containers ready', async () => {
    const { provider, pushed, last, isolation } = setup();
    const pod = testPod('web', [
      { name: 'a', command: ['sleep', '1d'] },
      { name: 'b', command: ['sleep', '1d'] },
    ]);
    await provider.createPod(pod);
    expect(pushed[0].status!.phase).toBe('Pending');
    await eventually(() => last()?.phase === 'Running');
    expect(last()!.containerStatuses!.map((c) => [c.name, c.ready])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect((await provider.getPod('default', 'web'))!.metadata!.uid).toBe('uid-web');
    expect((await provider.getPods()).map((p) => p.metadata!.name)).toEqual(['web']);
    expect((await provider.getPodStatus('default', 'web'))!.phase).toBe('Running');
    // Each container is started on its own (a task bind per container).
    expect(isolation.calls.filter((c) => c.startsWith('bind'))).toHaveLength(2);
    // The same pod again is nothing new.
    await provider.createPod(pod);
    expect(isolation.calls.filter((c) => c === 'create')).toHaveLength(1);
  });

  it('restartPolicy Never: a container that exits 3 leaves the pod Failed with exit code 3', async () => {
    const { provider, last, isolation, taskId } = setup();
    await provider.createPod(testPod('once', [{ name: 'a' }], { restartPolicy: 'Never' }));
    await eventually(() => last()?.phase === 'Running');
    isolation.exit(taskId('once', 'a'), 3);
    await eventually(() => last()?.phase === 'Failed');
    expect(stateOf(last())!.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    // One bind: the start; none after the exit.
    expect(isolation.calls.filter((c) => c.startsWith('bind'))).toHaveLength(1);
  });

  it('a container that cannot start: StartError (exit 128) under Never, the others still run', async () => {
    const { provider, last, isolation } = setup();
    isolation.failStart.add('bad');
    await provider.createPod(
      testPod('nostart', [{ name: 'good' }, { name: 'bad' }], { restartPolicy: 'Never' }),
    );
    await eventually(() => last()?.containerStatuses?.[1].state?.terminated);
    const [good, bad] = last()!.containerStatuses!;
    expect(good.state!.running).toBeDefined();
    expect(bad.state!.terminated).toMatchObject({
      exitCode: 128,
      reason: 'StartError',
      message: expect.stringMatching(/no such file/),
    });
    expect(last()!.phase).toBe('Running');
    expect(isolation.calls.filter((c) => c.startsWith('bind'))).toHaveLength(2); // no retry
  });

  it('a container that cannot start under Always backs off and tries again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { provider, last, isolation } = setup();
    isolation.failStart.add('a');
    await provider.createPod(testPod('retry', [{ name: 'a' }]));
    await vi.advanceTimersByTimeAsync(300);
    const binds = () => isolation.calls.filter((c) => c.startsWith('bind')).length;
    expect(binds()).toBe(2); // the start, then the immediate first retry
    expect(stateOf(last())!.waiting).toMatchObject({ reason: 'CrashLoopBackOff' });
    expect(last()!.containerStatuses![0].lastState!.terminated).toMatchObject({
      reason: 'StartError',
    });
    isolation.failStart.delete('a');
    await vi.advanceTimersByTimeAsync(10_100);
    expect(binds()).toBe(3);
    expect(stateOf(last())!.running).toBeDefined();
  });

  it('restartPolicy OnFailure: exit 0 stays Completed; exit 1 is restarted', async () => {
    const { provider, last, isolation, taskId } = setup();
    await provider.createPod(
      testPod('job', [{ name: 'ok' }, { name: 'flaky' }], { restartPolicy: 'OnFailure' }),
    );
    await eventually(() => last()?.phase === 'Running');
    isolation.exit(taskId('job', 'ok'), 0);
    isolation.exit(taskId('job', 'flaky'), 1);
    await eventually(() => last()?.containerStatuses?.[1].restartCount === 1);
    expect(stateOf(last(), 0)!.terminated!.reason).toBe('Completed');
    expect(stateOf(last(), 1)!.running).toBeDefined();
    expect(last()!.containerStatuses![1].lastState!.terminated).toMatchObject({ exitCode: 1 });
    isolation.exit(taskId('job', 'flaky'), 0);
    await eventually(() => last()?.phase === 'Succeeded');
  });

  it('restartPolicy Always: restarts at once, then backs off 10 s, 20 s (CrashLoopBackOff)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { provider, last, isolation, taskId } = setup();
    await provider.createPod(testPod('crash', [{ name: 'a' }]));
    const settle = async (ms = 50) => vi.advanceTimersByTimeAsync(ms);
    await settle();
    expect(last()!.phase).toBe('Running');
    const id = taskId('crash', 'a');

    isolation.exit(id, 2);
    await settle();
    expect(last()!.containerStatuses![0]).toMatchObject({
      restartCount: 1,
      state: { running: {} },
    });

    isolation.exit(id, 2);
    await settle();
    const waiting = last()!.containerStatuses![0];
    expect(waiting.state!.waiting).toMatchObject({
      reason: 'CrashLoopBackOff',
      message: expect.stringMatching(
        /^back-off 10s restarting failed container=a pod=crash_default/,
      ),
    });
    expect(waiting.lastState!.terminated).toMatchObject({ exitCode: 2, reason: 'Error' });
    expect(last()!.phase).toBe('Running');
    await settle(9_000);
    expect(isolation.task(id).restartCount).toBe(1);
    await settle(1_100);
    expect(isolation.task(id).restartCount).toBe(2);
    expect(stateOf(last())!.running).toBeDefined();

    isolation.exit(id, 2);
    await settle();
    expect(stateOf(last())!.waiting!.message).toMatch(/^back-off 20s/);
    await settle(19_000);
    expect(isolation.task(id).restartCount).toBe(2);
    await settle(1_100);
    expect(isolation.task(id).restartCount).toBe(3);
  });

  it('an image that does not exist: ErrImagePull, then ImagePullBackOff, retried with back-off', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { provider, last, images, isolation } = setup();
    await provider.createPod(testPod('nope', [{ name: 'a', image: 'nosuch:1' }]));
    await vi.advanceTimersByTimeAsync(10);
    expect(last()!.phase).toBe('Pending');
    expect(stateOf(last())!.waiting).toMatchObject({
      reason: 'ErrImagePull',
      message: expect.stringMatching(/failed to pull image "nosuch:1": .*manifest unknown/),
    });
    await vi.advanceTimersByTimeAsync(2000);
    expect(stateOf(last())!.waiting).toEqual({
      reason: 'ImagePullBackOff',
      message: 'Back-off pulling image "nosuch:1"',
    });
    expect(images.pulls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(7_900);
    expect(images.pulls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(images.pulls).toHaveLength(2);
    expect(stateOf(last())!.waiting!.reason).toBe('ErrImagePull');
    await vi.advanceTimersByTimeAsync(19_800);
    expect(images.pulls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(200);
    expect(images.pulls).toHaveLength(3);
    // The image appears in the registry: the next attempt (40 s on) runs the pod.
    images.addToRegistry('nosuch:1');
    await vi.advanceTimersByTimeAsync(40_100);
    expect(last()!.phase).toBe('Running');
    expect(isolation.containers.size).toBe(1);
  });

  it('updatePod with a changed image recreates that container from it; the other runs on', async () => {
    const { provider, last, isolation, images, taskId } = setup();
    images.addToRegistry('busybox:2', { cmd: ['sh', '-c', 'new'] });
    const pod = testPod('upd', [
      { name: 'a', image: 'busybox:1' },
      { name: 'b', image: 'busybox:1' },
    ]);
    await provider.createPod(pod);
    await eventually(() => last()?.phase === 'Running');
    const [oldA, oldB] = [taskId('upd', 'a'), taskId('upd', 'b')];
    const changed = structuredClone(pod);
    changed.metadata!.labels = { tier: 'front' };
    changed.spec!.containers[0].image = 'busybox:2';
    await provider.updatePod(changed);
    expect((await provider.getPod('default', 'upd'))!.metadata!.labels).toEqual({ tier: 'front' });
    await eventually(() => last()?.containerStatuses?.[0].image === 'busybox:2');
    await eventually(() => last()?.containerStatuses?.[0].state?.running);
    const [a, b] = last()!.containerStatuses!;
    // A new task from the new image; the old one got its stop signal and was removed.
    expect(taskId('upd', 'a')).not.toBe(oldA);
    expect(isolation.task(taskId('upd', 'a')).imageId).toBe(images.registry.get('busybox:2')!.id);
    expect(() => isolation.task(oldA)).toThrow();
    expect(a).toMatchObject({ restartCount: 1, lastState: { terminated: { exitCode: 143 } } });
    expect(isolation.calls).toContain(`remove task ${oldA}`);
    // The other container ran on untouched.
    expect(taskId('upd', 'b')).toBe(oldB);
    expect(b).toMatchObject({ image: 'busybox:1', restartCount: 0, state: { running: {} } });
  });

  it('updatePod with an image that cannot be pulled leaves the container running its old one', async () => {
    const { provider, last, taskId } = setup();
    const pod = testPod('nopull', [{ name: 'a', image: 'busybox:1' }]);
    await provider.createPod(pod);
    await eventually(() => last()?.phase === 'Running');
    const old = taskId('nopull', 'a');
    const changed = structuredClone(pod);
    changed.spec!.containers[0].image = 'busybox:nope';
    await provider.updatePod(changed);
    await new Promise((r) => setTimeout(r, 100));
    expect(taskId('nopull', 'a')).toBe(old);
    expect(last()!.containerStatuses![0]).toMatchObject({
      image: 'busybox:1',
      state: { running: {} },
    });
  });

  it('refuses a pod it can never run (InvalidInput), so the node fails it', async () => {
    const { provider } = setup();
    const pod = testPod('hostnet', [{ name: 'a' }], { hostNetwork: true });
    await expect(provider.createPod(pod)).rejects.toMatchObject({ kind: 'InvalidInput' });
    await expect(
      provider.createPod(testPod('bad', [{ name: 'a', image: 'UPPER/Case' }])),
    ).rejects.toThrow(/invalid image reference/);
    expect(await provider.getPods()).toEqual([]);
  });

  it('deletePod stops the containers (terminated status pushed) and removes the pod', async () => {
    const { provider, last, isolation } = setup();
    const pod = testPod('gone', [{ name: 'a' }, { name: 'b' }]);
    await provider.createPod(pod);
    await eventually(() => last()?.phase === 'Running');
    await provider.deletePod({
      ...pod,
      metadata: { ...pod.metadata, deletionGracePeriodSeconds: 5 },
    });
    await eventually(async () => !(await provider.getPod('default', 'gone')));
    expect(last()!.containerStatuses!.map((c) => c.state!.terminated?.exitCode)).toEqual([
      143, 143,
    ]);
    expect(isolation.containers.size).toBe(0);
    // Two binds: the starts; no restart after the stop.
    expect(isolation.calls.filter((c) => c.startsWith('bind'))).toHaveLength(2);
    await expect(provider.deletePod(pod)).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('deletePod of a pod still backing off its pull leaves nothing on the VCH', async () => {
    const { provider, isolation, last } = setup();
    const pod = testPod('never', [{ name: 'a', image: 'nosuch:1' }]);
    await provider.createPod(pod);
    await eventually(() => stateOf(last())?.waiting?.reason === 'ErrImagePull');
    await provider.deletePod(pod);
    await eventually(async () => !(await provider.getPod('default', 'never')));
    expect(isolation.calls).not.toContain('create');
  });

  it('a restarted provider rebuilds its cache from the VCH and leaves running pods running', async () => {
    const first = setup();
    await first.provider.createPod(testPod('keep', [{ name: 'a' }]));
    await eventually(() => first.last()?.phase === 'Running');
    await first.provider.close();
    const id = first.taskId('keep', 'a');

    const second = setup({ isolation: first.isolation });
    first.isolation.calls.length = 0;
    await second.provider.ping();
    expect((await second.provider.getPods()).map((p) => p.metadata!.uid)).toEqual(['uid-keep']);
    expect((await second.provider.getPodStatus('default', 'keep'))!.phase).toBe('Running');
    expect(first.isolation.calls).not.toContain('create');
    expect(first.isolation.task(id).status).toBe('running');
    // The pod's restartPolicy is watched again.
    first.isolation.exit(id, 1);
    await eventually(() => first.isolation.task(id).restartCount === 1);
  });

  it('reads a container log through the portlayer with the kubelet options', async () => {
    const { provider, last, isolation, taskId } = setup();
    await provider.createPod(testPod('logs', [{ name: 'a' }]));
    await eventually(() => last()?.phase === 'Running');
    isolation.logText.set(taskId('logs', 'a'), 'hello\n');
    const stream = await provider.getContainerLogs('default', 'logs', 'a', {
      tail: 2,
      since: 1_700_000_000_123_456_789n,
      timestamps: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk;
    expect(text).toBe('hello\n');
    expect(isolation.calls.find((c) => c.startsWith('logs'))).toContain(
      '"since":"1700000000123456789","timestamps":true,"tail":2',
    );
    await expect(provider.getContainerLogs('default', 'logs', 'zz', {})).rejects.toMatchObject({
      kind: 'NotFound',
    });
    // The previous instance's log is asked of the portlayer, never followed.
    await provider.getContainerLogs('default', 'logs', 'a', { previous: true, follow: true });
    expect(isolation.calls.filter((c) => c.startsWith('logs')).at(-1)).toContain('"follow":false');
    expect(isolation.calls.filter((c) => c.startsWith('logs')).at(-1)).toContain('"previous":true');
  });

  it('a container not created yet has no log to read (it is waiting, says why)', async () => {
    const { provider, last } = setup();
    await provider.createPod(testPod('wait', [{ name: 'a', image: 'nosuch:1' }]));
    await eventually(() => stateOf(last())?.waiting?.reason === 'ErrImagePull');
    await expect(provider.getContainerLogs('default', 'wait', 'a', {})).rejects.toThrow(
      /waiting to start: ErrImagePull/,
    );
  });

  it('node capacity comes from /vch/info; a VCH that does not answer makes the node not Ready', async () => {
    const { provider, isolation } = setup();
    const s = await provider.nodeStatus();
    expect(s.capacity).toEqual({ cpu: '4', memory: '8192Mi', pods: '50' });
    expect(s.allocatable).toEqual(s.capacity);
    expect(s.conditions[0]).toMatchObject({ type: 'Ready', status: 'True' });
    isolation.info_ = { cpuMhz: 6000, memory: 4096 };
    expect((await provider.nodeStatus()).capacity).toEqual({
      cpu: '6',
      memory: '4096Mi',
      pods: '2',
    });
    isolation.down = new NodeError('Unavailable', 'portlayer at unix:///x: ECONNREFUSED');
    const down = await provider.nodeStatus();
    expect(down.conditions[0]).toMatchObject({
      status: 'False',
      message: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(down.capacity).toEqual({ cpu: '6', memory: '4096Mi', pods: '2' });
    await expect(provider.ping()).rejects.toThrow(/ECONNREFUSED/);
  });
});
