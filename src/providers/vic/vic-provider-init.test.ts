// Init containers, native sidecars and activeDeadlineSeconds through the provider, over the
// test double of the portlayer: the order tasks are started and stopped in, restarts, and the
// status kubectl reads (initContainerStatuses, Initialized, PodInitializing, phase).
import type * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../logging/logger.js';
import type { PodEvent } from '../../node/provider.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../test/support/fake-proxies.js';
import { eventually, testPod } from '../../../test/support/pods.js';
import { VicProvider } from './vic-provider.js';

const providers: VicProvider[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(providers.splice(0).map((p) => p.close()));
});

function setup() {
  const isolation = new FakeIsolationProxy();
  const images = new FakeImageStore();
  images.addToRegistry('busybox:1');
  const provider = new VicProvider({
    isolation,
    imageStore: images,
    nodeIP: '10.0.0.9',
    log: silentLogger(),
  });
  providers.push(provider);
  const pushed: k8s.V1Pod[] = [];
  const events: PodEvent[] = [];
  provider.notifyPods((pod) => pushed.push(pod));
  provider.notifyEvents((_pod, e) => events.push(e));
  const last = () => pushed[pushed.length - 1]?.status;
  const taskId = (pod: string, c: string) =>
    provider.cache.get('default', pod)!.containers.get(c)!.taskId!;
  /** Task names in the order their starts were asked for (binds). */
  const starts = () =>
    isolation.calls
      .filter((c) => c.startsWith('bind '))
      .map((c) => nameOf(isolation, c.slice('bind '.length)));
  return { isolation, provider, pushed, events, last, taskId, starts };
}

function nameOf(isolation: FakeIsolationProxy, taskId: string): string {
  return isolation.task(taskId).name;
}

const init = (name: string, extra: Partial<k8s.V1Container> = {}): k8s.V1Container => ({
  name,
  image: 'busybox:1',
  ...extra,
});
const sidecar = (name: string) => init(name, { restartPolicy: 'Always' });
const condition = (s: k8s.V1PodStatus | undefined, type: string) =>
  s?.conditions?.find((c) => c.type === type);
/** What kubectl's STATUS column computes from initContainerStatuses (its printPod rules). */
function kubectlInit(pod: k8s.V1Pod): string | undefined {
  const specs = pod.spec!.initContainers ?? [];
  for (const [i, s] of (pod.status!.initContainerStatuses ?? []).entries()) {
    if (s.state?.terminated?.exitCode === 0) continue;
    if (specs[i].restartPolicy === 'Always' && s.started) continue;
    if (s.state?.terminated) return `Init:${s.state.terminated.reason}`;
    if (s.state?.waiting?.reason && s.state.waiting.reason !== 'PodInitializing')
      return `Init:${s.state.waiting.reason}`;
    return `Init:${i}/${specs.length}`;
  }
  return undefined;
}

describe('VicProvider: init containers', () => {
  it('runs init containers one by one, each to exit 0, then the app containers', async () => {
    const { provider, pushed, last, isolation, taskId, starts } = setup();
    const pod = testPod('seq', [{ name: 'app' }], { initContainers: [init('one'), init('two')] });
    await provider.createPod(pod);
    expect(pushed[0].status!.initContainerStatuses!.map((s) => s.state!.waiting!.reason)).toEqual([
      'PodInitializing',
      'PodInitializing',
    ]);
    await eventually(() => last()?.initContainerStatuses?.[0].state?.running);
    expect(starts()).toEqual(['one']);
    expect(kubectlInit(pushed[pushed.length - 1])).toBe('Init:0/2');
    expect(last()!.phase).toBe('Pending');
    expect(last()!.containerStatuses![0].state!.waiting!.reason).toBe('PodInitializing');
    expect(condition(last(), 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [one two]',
    });
    expect(condition(last(), 'PodReadyToStartContainers')!.status).toBe('True');

    isolation.exit(taskId('seq', 'one'), 0);
    await eventually(() => last()?.initContainerStatuses?.[1].state?.running);
    expect(starts()).toEqual(['one', 'two']);
    expect(kubectlInit(pushed[pushed.length - 1])).toBe('Init:1/2');
    expect(last()!.initContainerStatuses![0]).toMatchObject({
      ready: true,
      started: false,
      state: { terminated: { exitCode: 0, reason: 'Completed' } },
    });

    isolation.exit(taskId('seq', 'two'), 0);
    await eventually(() => last()?.phase === 'Running');
    expect(starts()).toEqual(['one', 'two', 'app']);
    expect(kubectlInit(pushed[pushed.length - 1])).toBeUndefined();
    expect(condition(last(), 'Initialized')!.status).toBe('True');
    expect(condition(last(), 'Ready')!.status).toBe('True');
    // A completed init container is not started again, whatever the pod's restartPolicy.
    isolation.exit(taskId('seq', 'app'), 1);
    await eventually(() => last()?.containerStatuses?.[0].restartCount === 1);
    expect(starts()).toEqual(['one', 'two', 'app', 'app']);
  });

  it('a failing init container is retried with back-off (Init:CrashLoopBackOff) before the app starts', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { provider, pushed, last, isolation, taskId, starts } = setup();
    await provider.createPod(
      testPod('retry', [{ name: 'app' }], {
        restartPolicy: 'OnFailure',
        initContainers: [init('flaky')],
      }),
    );
    const settle = (ms = 50) => vi.advanceTimersByTimeAsync(ms);
    await settle();
    const id = taskId('retry', 'flaky');
    isolation.exit(id, 1);
    await settle(); // the first restart is at once
    isolation.exit(id, 1);
    await settle();
    expect(last()!.initContainerStatuses![0]).toMatchObject({
      restartCount: 1,
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: { terminated: { exitCode: 1 } },
    });
    expect(kubectlInit(pushed[pushed.length - 1])).toBe('Init:CrashLoopBackOff');
    expect(last()!.phase).toBe('Pending');
    await settle(10_100);
    expect(isolation.task(id).restartCount).toBe(2);
    expect(starts()).toEqual(['flaky', 'flaky', 'flaky']);
    isolation.exit(id, 0);
    await settle();
    expect(starts()).toEqual(['flaky', 'flaky', 'flaky', 'app']);
    expect(last()!.initContainerStatuses![0]).toMatchObject({
      restartCount: 2,
      state: { terminated: { exitCode: 0 } },
    });
    expect(last()!.phase).toBe('Running');
  });

  it('restartPolicy Never: a failed init container fails the pod and no app container starts', async () => {
    const { provider, last, isolation, taskId, starts } = setup();
    await provider.createPod(
      testPod('never', [{ name: 'app' }], {
        restartPolicy: 'Never',
        initContainers: [init('bad'), init('after')],
      }),
    );
    await eventually(() => last()?.initContainerStatuses?.[0].state?.running);
    isolation.exit(taskId('never', 'bad'), 3);
    await eventually(() => last()?.phase === 'Failed');
    expect(starts()).toEqual(['bad']);
    expect(last()!.initContainerStatuses![0].state!.terminated).toMatchObject({ exitCode: 3 });
    expect(last()!.initContainerStatuses![1].state!.waiting!.reason).toBe('PodInitializing');
    expect(last()!.containerStatuses![0].state!.waiting!.reason).toBe('PodInitializing');
  });
});

describe('VicProvider: native sidecars', () => {
  it('starts a sidecar, then the next init container once it runs; it runs beside the app', async () => {
    const { provider, last, isolation, taskId, starts } = setup();
    await provider.createPod(
      testPod('side', [{ name: 'app' }], {
        initContainers: [sidecar('proxy'), init('setup')],
      }),
    );
    await eventually(() => last()?.initContainerStatuses?.[1].state?.running);
    expect(starts()).toEqual(['proxy', 'setup']);
    isolation.exit(taskId('side', 'setup'), 0);
    await eventually(
      () => last()?.phase === 'Running' && condition(last(), 'Ready')?.status === 'True',
    );
    expect(starts()).toEqual(['proxy', 'setup', 'app']);
    expect(last()!.initContainerStatuses![0]).toMatchObject({
      ready: true,
      started: true,
      state: { running: {} },
    });
    // A sidecar that exits is started again.
    isolation.exit(taskId('side', 'proxy'), 0);
    await eventually(() => last()?.initContainerStatuses?.[0].restartCount === 1);
    expect(starts()).toEqual(['proxy', 'setup', 'app', 'proxy']);
  });

  it('a sidecar is restarted even under restartPolicy Never, and stopped once the app has ended', async () => {
    const { provider, last, isolation, taskId } = setup();
    await provider.createPod(
      testPod('job', [{ name: 'app' }], {
        restartPolicy: 'Never',
        initContainers: [sidecar('log')],
      }),
    );
    await eventually(() => last()?.containerStatuses?.[0].state?.running);
    isolation.exit(taskId('job', 'log'), 1);
    await eventually(() => last()?.initContainerStatuses?.[0].restartCount === 1);
    isolation.exit(taskId('job', 'app'), 0);
    // The app is done for good: the sidecar gets its stop signal and is not started again.
    await eventually(() => last()?.phase === 'Succeeded');
    expect(last()!.initContainerStatuses![0].state!.terminated).toMatchObject({ exitCode: 143 });
    expect(isolation.task(taskId('job', 'log')).restartCount).toBe(1);
    expect(isolation.calls.filter((c) => c.startsWith('signal'))).toEqual(['signal 15']);
  });

  it('deleting the pod stops the app containers first, then the sidecars in reverse order', async () => {
    const { provider, last, isolation } = setup();
    const pod = testPod('del', [{ name: 'app' }], {
      terminationGracePeriodSeconds: 5,
      initContainers: [sidecar('first'), sidecar('second')],
    });
    await provider.createPod(pod);
    await eventually(() => last()?.containerStatuses?.[0].state?.running);
    // Each records when it was signalled.
    const order: string[] = [];
    const signal = isolation.signal.bind(isolation);
    isolation.signal = async (id, sig) => {
      order.push(`${nameOf(isolation, id)} ${sig}`);
      return signal(id, sig);
    };
    isolation.ignoreTerm.add('app'); // the app takes its whole grace period
    await provider.deletePod(pod);
    await eventually(() => !provider.cache.get('default', 'del'), 10_000);
    expect(order).toEqual(['app 15', 'app 9', 'second 15', 'first 15']);
  }, 15_000);
});

describe('VicProvider: activeDeadlineSeconds', () => {
  it('past the deadline the pod fails with DeadlineExceeded and its containers are stopped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { provider, last, isolation, events, starts } = setup();
    await provider.createPod(
      testPod('late', [{ name: 'app' }], {
        activeDeadlineSeconds: 30,
        terminationGracePeriodSeconds: 2,
        restartPolicy: 'Always',
      }),
    );
    await vi.advanceTimersByTimeAsync(50);
    expect(last()!.phase).toBe('Running');
    await vi.advanceTimersByTimeAsync(29_000);
    expect(last()!.phase).toBe('Running');
    await vi.advanceTimersByTimeAsync(1_100);
    expect(last()).toMatchObject({
      phase: 'Failed',
      reason: 'DeadlineExceeded',
      message: 'Pod was active on the node longer than the specified deadline',
    });
    expect(last()!.containerStatuses![0].state!.terminated).toMatchObject({ exitCode: 143 });
    expect(events).toContainEqual({
      type: 'Normal',
      reason: 'DeadlineExceeded',
      message: 'Pod was active on the node longer than the specified deadline',
    });
    // Not restarted, whatever its restartPolicy.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(starts()).toEqual(['app']);
    expect(isolation.calls.filter((c) => c.startsWith('signal'))).toEqual(['signal 15']);
  });
});
