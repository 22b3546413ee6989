import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../logging/logger.js';
import { PodCache } from '../cache/pod-cache.js';
import { newVicPod } from '../cache/vic-pod.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../../test/support/fake-proxies.js';
import { testPod } from '../../../../test/support/pods.js';
import { PodCreator } from './pod-creator.js';
import { PodDeleter } from './pod-deleter.js';
import { PodStarter } from './pod-starter.js';
import { PodStopper, signalNumber } from './pod-stopper.js';

async function runningPod(names: string[]) {
  const isolation = new FakeIsolationProxy();
  const images = new FakeImageStore();
  images.addToRegistry('busybox:1');
  const creator = new PodCreator(images, isolation, undefined, silentLogger());
  const pod = testPod(
    'p',
    names.map((name) => ({ name })),
  );
  const created = await creator.create(pod, await creator.pullImages(pod));
  await new PodStarter(isolation).start(created.id);
  isolation.calls.length = 0;
  return { isolation, pod, created };
}

describe('PodStopper', () => {
  it('SIGTERM: tasks that exit on it are not killed', async () => {
    const { isolation, created } = await runningPod(['a', 'b']);
    const t0 = Date.now();
    const info = await new PodStopper(isolation).stop(created.id, 30);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(isolation.calls.filter((c) => c.startsWith('signal'))).toEqual([
      'signal 15',
      'signal 15',
    ]);
    expect(info.tasks!.map((t) => t.processConfig.exitCode)).toEqual([143, 143]);
    expect(isolation.calls.slice(-2)).toEqual(['commit 0', 'info']);
    expect(isolation.containers.get(created.id)!.state).toBe('Stopped');
  });

  it('SIGKILL once the grace period has run out', async () => {
    const { isolation, created } = await runningPod(['polite', 'stubborn']);
    isolation.ignoreTerm.add('stubborn');
    const t0 = Date.now();
    const info = await new PodStopper(isolation).stop(created.id, 1);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(990);
    expect(took).toBeLessThan(3000);
    // Each task its stop signal (SIGTERM), then SIGKILL to the pod.
    expect(isolation.calls.filter((c) => c.startsWith('signal'))).toEqual([
      'signal 15',
      'signal 15',
      'signal 9',
    ]);
    expect(info.tasks!.map((t) => t.processConfig.exitCode)).toEqual([143, 137]);
  });

  it("sends each task its image's STOPSIGNAL", async () => {
    const { isolation, created } = await runningPod(['a']);
    const task = isolation.task(created.tasks.get('a')!);
    task.config = { ...task.config, stopSignal: 'SIGQUIT' };
    isolation.ignoreTerm.add('a');
    await new PodStopper(isolation).stop(created.id, 0);
    expect(isolation.calls.filter((c) => c.startsWith('signal'))).toEqual(['signal 3', 'signal 9']);
  });

  it('knows signals by name and number', () => {
    expect([signalNumber(undefined), signalNumber('SIGQUIT'), signalNumber('int')]).toEqual([
      15, 3, 2,
    ]);
    expect([signalNumber('9'), signalNumber('SIGNOPE'), signalNumber('99')]).toEqual([9, 15, 15]);
  });

  it('a stopped pod is only recorded stopped', async () => {
    const { isolation, created } = await runningPod(['a']);
    isolation.exit(created.tasks.get('a')!, 0);
    await new PodStopper(isolation).stop(created.id, 30);
    expect(isolation.calls.some((c) => c.startsWith('signal'))).toBe(false);
  });

  it('retries the stop on a fresh handle when its handle went stale', async () => {
    const { isolation, created } = await runningPod(['a']);
    const realHandle = isolation.handle.bind(isolation);
    let raced = false;
    isolation.handle = async (id) => {
      const h = await realHandle(id);
      if (!raced) {
        // Someone else commits a change between our handle and our commit.
        raced = true;
        await isolation.commitHandle(await isolation.addLoggingToHandle(await realHandle(id)));
      }
      return h;
    };
    await new PodStopper(isolation).stop(created.id, 5);
    expect(isolation.containers.get(created.id)!.state).toBe('Stopped');
  });
});

describe('PodDeleter', () => {
  it('stops, removes from the VCH, then forgets the pod', async () => {
    const { isolation, pod, created } = await runningPod(['a']);
    const cache = new PodCache();
    const vp = newVicPod(pod);
    vp.id = created.id;
    cache.add(vp);
    let stoppedSeen = false;
    await new PodDeleter(isolation, new PodStopper(isolation), cache).delete(vp, 5, () => {
      stoppedSeen = vp.info!.tasks!.every((t) => t.processConfig.status === 'exited');
    });
    expect(stoppedSeen).toBe(true);
    expect(isolation.containers.size).toBe(0);
    expect(cache.get('default', 'p')).toBeUndefined();
  });

  it('a pod the VCH no longer has is deleted already', async () => {
    const { isolation, pod, created } = await runningPod(['a']);
    await isolation.remove(created.id, true);
    const cache = new PodCache();
    const vp = newVicPod(pod);
    vp.id = created.id;
    cache.add(vp);
    await new PodDeleter(isolation, new PodStopper(isolation), cache).delete(vp, 5);
    expect(cache.getAll()).toEqual([]);
  });
});
