import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../logging/logger.js';
import { PodCreator } from '../operations/pod-creator.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../../test/support/fake-proxies.js';
import { testPod } from '../../../../test/support/pods.js';
import { PodCache } from './pod-cache.js';
import { newVicPod } from './vic-pod.js';

describe('PodCache', () => {
  it('keeps pods by namespace and name and refuses a second of the same name', () => {
    const cache = new PodCache();
    const a = newVicPod(testPod('a'));
    cache.add(a);
    expect(cache.get('default', 'a')).toBe(a);
    expect(cache.get('other', 'a')).toBeUndefined();
    expect(() => cache.add(newVicPod(testPod('a')))).toThrow(/cached already/);
    const other = testPod('a');
    other.metadata!.namespace = 'other';
    cache.add(newVicPod(other));
    expect(cache.getAll()).toHaveLength(2);
  });

  it('deletes only the very record it is given', () => {
    const cache = new PodCache();
    const old = newVicPod(testPod('a'));
    cache.add(old);
    cache.delete(old);
    const newer = newVicPod(testPod('a'));
    cache.add(newer);
    cache.delete(old);
    expect(cache.get('default', 'a')).toBe(newer);
  });

  it('refuses a pod without a name', () => {
    const pod = testPod('a');
    delete pod.metadata!.name;
    expect(() => new PodCache().add(newVicPod(pod))).toThrow(/namespace and a name/);
  });

  it('is rebuilt from the VCH: pods with their ids and task ids; foreign containers left out', async () => {
    const isolation = new FakeIsolationProxy();
    const images = new FakeImageStore();
    images.addToRegistry('busybox:1');
    const creator = new PodCreator(images, isolation, undefined, silentLogger());
    const pod = testPod('web', [
      { name: 'a', image: 'busybox:1' },
      { name: 'b', image: 'busybox:1' },
    ]);
    pod.metadata!.labels = { app: 'web' };
    const created = await creator.create(pod, await creator.pullImages(pod));
    // A container made through the persona (docker run) has none of our annotations.
    const foreign = await isolation.createHandle({ name: 'docker-made' });
    await isolation.commitHandle(foreign.handle);

    const cache = new PodCache();
    const found = await cache.rehydrate(isolation);
    expect(found).toHaveLength(1);
    const vp = cache.get('default', 'web')!;
    expect(vp.id).toBe(created.id);
    expect(vp.stage).toBe('created');
    expect(vp.pod.metadata).toMatchObject({ uid: 'uid-web', labels: { app: 'web' } });
    expect(vp.pod.spec!.containers.map((c) => c.name)).toEqual(['a', 'b']);
    expect(vp.containers.get('a')!.taskId).toBe(created.tasks.get('a'));
    expect(vp.containers.get('b')!.taskId).toBe(created.tasks.get('b'));
    // A second rebuild adds nothing twice.
    expect(await cache.rehydrate(isolation)).toHaveLength(0);
  });
});
