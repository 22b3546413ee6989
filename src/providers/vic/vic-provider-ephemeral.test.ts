// Ephemeral containers (kubectl debug) through the provider, over the test double of the
// portlayer: one added to a running pod's spec is joined to the pod (with its target), started,
// never restarted, reported in ephemeralContainerStatuses, and one that cannot be run waits
// with the reason while the pod runs on.
import type * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../logging/logger.js';
import type { PodEvent } from '../../node/provider.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../test/support/fake-proxies.js';
import { eventually, testPod } from '../../../test/support/pods.js';
import { VicProvider } from './vic-provider.js';

const providers: VicProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
});

async function runningPod(restartPolicy = 'Always') {
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
  const pod = testPod('dbg', [{ name: 'app' }], { restartPolicy });
  await provider.createPod(pod);
  await eventually(() => last()?.containerStatuses?.[0]?.state?.running);
  const debug = async (...ecs: k8s.V1EphemeralContainer[]) => {
    const updated = structuredClone(pod);
    updated.spec!.ephemeralContainers = ecs;
    await provider.updatePod(updated);
  };
  const eph = (name: string) => last()?.ephemeralContainerStatuses?.find((s) => s.name === name);
  const taskOf = (name: string) =>
    provider.cache.get('default', 'dbg')!.containers.get(name)?.taskId;
  const binds = (name: string) =>
    isolation.calls.filter((c) => c === `bind ${taskOf(name)}`).length;
  return { isolation, provider, images, events, last, debug, eph, taskOf, binds };
}

describe('VicProvider: ephemeral containers', () => {
  it('joins one added to the running pod, with its target, and starts it; the app runs on', async () => {
    const t = await runningPod();
    const appTask = t.taskOf('app');
    await t.debug({
      name: 'debugger',
      image: 'busybox:1',
      command: ['sh', '-c', 'ps'],
      targetContainerName: 'app',
    });
    // Reported at once as waiting, then running.
    const running = await eventually(() => t.eph('debugger')?.state?.running);
    expect(running.startedAt).toBeDefined();
    const s = t.eph('debugger')!;
    expect(s).toMatchObject({ ready: false, started: true, restartCount: 0, image: 'busybox:1' });
    const task = t.isolation.task(t.taskOf('debugger')!);
    expect(task.config).toMatchObject({ pidNamespaceOf: 'app', path: 'sh', args: ['-c', 'ps'] });
    // Same pod on the VCH, the app container untouched, counted alone for phase and readiness.
    expect(t.taskOf('app')).toBe(appTask);
    expect(t.last()!.containerStatuses!.map((c) => c.name)).toEqual(['app']);
    expect(t.last()!.containerStatuses![0]).toMatchObject({ restartCount: 0, ready: true });
    expect(t.last()!.phase).toBe('Running');
    expect(t.events.map((e) => `${e.reason}:${e.container}`)).toEqual(
      expect.arrayContaining(['Created:debugger', 'Started:debugger']),
    );
  });

  it('never restarts it, whatever the pod restartPolicy', async () => {
    const t = await runningPod('Always');
    await t.debug({ name: 'once', image: 'busybox:1' });
    await eventually(() => t.eph('once')?.state?.running);
    expect(t.binds('once')).toBe(1);
    t.isolation.exit(t.taskOf('once')!, 3);
    const ended = await eventually(() => t.eph('once')?.state?.terminated);
    expect(ended).toMatchObject({ exitCode: 3, reason: 'Error' });
    await new Promise((r) => setTimeout(r, 300));
    expect(t.binds('once')).toBe(1);
    expect(t.eph('once')!.state!.terminated).toBeDefined();
    expect(t.last()!.phase).toBe('Running');
  });

  it('adds a second one later, leaving the first as it was', async () => {
    const t = await runningPod();
    await t.debug({ name: 'a', image: 'busybox:1' });
    await eventually(() => t.eph('a')?.state?.running);
    const first = t.taskOf('a');
    await t.debug({ name: 'a', image: 'busybox:1' }, { name: 'b', image: 'busybox:1' });
    await eventually(() => t.eph('b')?.state?.running);
    expect(t.taskOf('a')).toBe(first);
    expect(t.binds('a')).toBe(1);
  });

  it('one it cannot run waits with the reason and a Warning Event; the pod runs on', async () => {
    const t = await runningPod();
    await t.debug({ name: 'priv', image: 'busybox:1', securityContext: { privileged: true } });
    const waiting = await eventually(() => t.eph('priv')?.state?.waiting);
    expect(waiting.reason).toBe('CreateContainerError');
    expect(waiting.message).toMatch(
      /spec\.ephemeralContainers\["priv"\]\.securityContext\.privileged: /,
    );
    expect(t.taskOf('priv')).toBeUndefined();
    expect(t.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'Failed', container: 'priv' }),
    );
    expect(t.last()!.phase).toBe('Running');
    expect(t.last()!.containerStatuses![0].state!.running).toBeDefined();
  });

  it('an image that cannot be pulled shows as ErrImagePull', async () => {
    const t = await runningPod();
    await t.debug({ name: 'nope', image: 'missing:1' });
    const waiting = await eventually(() =>
      t.eph('nope')?.state?.waiting?.reason === 'ErrImagePull' ? t.eph('nope') : undefined,
    );
    expect(waiting.state!.waiting!.message).toMatch(/missing:1/);
    expect(t.last()!.phase).toBe('Running');
  });
});
