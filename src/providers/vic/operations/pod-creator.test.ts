import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../logging/logger.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../../test/support/fake-proxies.js';
import { testPod } from '../../../../test/support/pods.js';
import { ImagePullError } from './errors.js';
import { defaultPullPolicy, PodCreator } from './pod-creator.js';

function setup(secrets: Record<string, k8s.V1Secret> = {}) {
  const isolation = new FakeIsolationProxy();
  const images = new FakeImageStore();
  const creator = new PodCreator(
    images,
    isolation,
    async (_ns, name) => secrets[name],
    silentLogger(),
  );
  return { isolation, images, creator };
}

function dockerConfigSecret(name: string, server: string, user: string, pass: string) {
  const json = { auths: { [server]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } } };
  return {
    metadata: { name },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify(json)).toString('base64') },
  } satisfies k8s.V1Secret;
}

describe('PodCreator', () => {
  it('makes the whole pod with one handle and one commit, in VIC order', async () => {
    const { isolation, images, creator } = setup();
    images.addToRegistry('busybox:1');
    images.addToRegistry('reg.local:5000/tools:2');
    const pod = testPod('two', [
      { name: 'a', image: 'busybox:1' },
      { name: 'b', image: 'reg.local:5000/tools:2' },
    ]);
    const created = await creator.create(pod, await creator.pullImages(pod));
    expect(isolation.calls).toEqual([
      'create',
      'image a',
      'task a',
      'image b',
      'task b',
      'interaction',
      'logging',
      'commit',
    ]);
    const c = isolation.containers.get(created.id)!;
    expect(c.state).toBe('Created');
    expect(c.logging && c.interaction).toBe(true);
    expect(c.tasks.map((t) => [t.name, t.id])).toEqual([...created.tasks]);
    expect(c.config.annotations).toMatchObject({
      'io.kubernetes.pod.namespace': 'default',
      'io.kubernetes.pod.name': 'two',
      'io.kubernetes.pod.uid': 'uid-two',
    });
    expect(c.config.hostname).toBe('two');
  });

  it("passes the pod's choice of backend (vic-kubelet.io/runtime) to the VCH, and none when unset", async () => {
    const { isolation, images, creator } = setup();
    images.addToRegistry('busybox:1');
    const vm = testPod('vm', [{ name: 'a', image: 'busybox:1' }]);
    vm.metadata!.annotations = { 'vic-kubelet.io/runtime': 'vm' };
    const plain = testPod('plain', [{ name: 'a', image: 'busybox:1' }]);
    const a = await creator.create(vm, await creator.pullImages(vm));
    const b = await creator.create(plain, await creator.pullImages(plain));
    expect(isolation.containers.get(a.id)!.config.annotations).toMatchObject({
      'vic-kubelet.io/runtime': 'vm',
    });
    expect(isolation.containers.get(b.id)!.config.annotations).not.toHaveProperty(
      'vic-kubelet.io/runtime',
    );
  });

  it('asks nothing of the VCH for a container that has no command', async () => {
    const { isolation, images, creator } = setup();
    images.addToRegistry('busybox:1', { cmd: [], entrypoint: [] });
    const pod = testPod('nocmd', [{ name: 'app' }]);
    await expect(creator.create(pod, await creator.pullImages(pod))).rejects.toMatchObject({
      container: 'app',
      kind: 'InvalidInput',
      message: expect.stringMatching(/no command/),
    });
    expect(isolation.calls).toEqual([]);
  });

  it('leaves nothing on the VCH when a join fails before the commit', async () => {
    const { isolation, images, creator } = setup();
    images.addToRegistry('busybox:1');
    isolation.failOn = 'task b';
    const pod = testPod('p', [{ name: 'a' }, { name: 'b' }]);
    await expect(creator.create(pod, await creator.pullImages(pod))).rejects.toMatchObject({
      container: 'b',
      kind: 'InvalidInput',
    });
    expect(isolation.calls).not.toContain('commit');
    expect(isolation.containers.size).toBe(0);
  });

  it('pulls with the credentials of the matching imagePullSecret', async () => {
    const { images, creator } = setup({
      other: dockerConfigSecret('other', 'elsewhere.io', 'x', 'y'),
      mine: dockerConfigSecret('mine', 'https://127.0.0.1:5001/v2/', 'alice', 's3cret'),
    });
    images.addToRegistry('127.0.0.1:5001/private:1');
    images.needsAuth.set('127.0.0.1:5001/private:1', 'alice:s3cret');
    const pod = testPod('p', [{ image: '127.0.0.1:5001/private:1' }], {
      imagePullSecrets: [{ name: 'missing' }, { name: 'other' }, { name: 'mine' }],
    });
    await creator.pullImages(pod);
    expect(images.pulls[0].credentials).toEqual({
      username: 'alice',
      password: 's3cret',
      serveraddress: 'https://127.0.0.1:5001/v2/',
    });
  });

  it('fails the pull without the secret, naming the container and the image', async () => {
    const { images, creator } = setup();
    images.addToRegistry('127.0.0.1:5001/private:1');
    images.needsAuth.set('127.0.0.1:5001/private:1', 'alice:s3cret');
    const pod = testPod('p', [{ name: 'app', image: '127.0.0.1:5001/private:1' }]);
    const err = await creator.pullImages(pod).catch((e) => e);
    expect(err).toBeInstanceOf(ImagePullError);
    expect(err).toMatchObject({ container: 'app', image: '127.0.0.1:5001/private:1' });
    expect(err.message).toMatch(/failed to pull image "127.0.0.1:5001\/private:1": .*unauthorized/);
  });

  it('pulls an image once however many containers run it', async () => {
    const { images, creator } = setup();
    images.addToRegistry('busybox:1');
    const pod = testPod('p', [{ name: 'a' }, { name: 'b' }, { name: 'c', image: 'busybox:1' }], {});
    for (const c of pod.spec!.containers) c.imagePullPolicy = 'Always';
    const got = await creator.pullImages(pod);
    expect(images.pulls).toHaveLength(1);
    expect([...got.keys()]).toEqual(['a', 'b', 'c']);
  });

  it('honours imagePullPolicy', async () => {
    const { images, creator } = setup();
    images.addToRegistry('busybox:1');
    await creator.pullImages(testPod('a', [{ imagePullPolicy: 'IfNotPresent' }]));
    await creator.pullImages(testPod('b', [{ imagePullPolicy: 'IfNotPresent' }]));
    expect(images.pulls).toHaveLength(1);
    await creator.pullImages(testPod('c', [{ imagePullPolicy: 'Always' }]));
    expect(images.pulls).toHaveLength(2);
    await expect(
      creator.pullImages(testPod('d', [{ image: 'nothere:1', imagePullPolicy: 'Never' }])),
    ).rejects.toMatchObject({ neverPull: true });
    expect(images.pulls).toHaveLength(2);
  });

  it('defaults the pull policy as Kubernetes does', () => {
    expect(defaultPullPolicy('busybox')).toBe('Always');
    expect(defaultPullPolicy('busybox:latest')).toBe('Always');
    expect(defaultPullPolicy('127.0.0.1:5000/busybox')).toBe('Always');
    expect(defaultPullPolicy('127.0.0.1:5000/busybox:1.36')).toBe('IfNotPresent');
    expect(defaultPullPolicy(`busybox@sha256:${'a'.repeat(64)}`)).toBe('IfNotPresent');
  });
});
