import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../logging/logger.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../../test/support/fake-proxies.js';
import { testPod } from '../../../../test/support/pods.js';
import { ContainerConfigError } from './errors.js';
import { addressesOf, needsPodAddress } from './pod-address.js';
import { PodCreator } from './pod-creator.js';

const podIPEnv = (name: string, fieldPath: string): k8s.V1EnvVar => ({
  name,
  valueFrom: { fieldRef: { fieldPath } },
});

function setup() {
  const isolation = new FakeIsolationProxy();
  isolation.bridgeAddress = () => '10.88.0.7/16';
  const images = new FakeImageStore();
  images.addToRegistry('busybox:1');
  const creator = new PodCreator(images, isolation, undefined, silentLogger(), {
    podIPs: () => [],
  });
  return { isolation, creator };
}

describe('the pod address before its containers', () => {
  it('is needed only by a pod whose env takes status.podIP(s)', () => {
    expect(needsPodAddress(testPod('p', [{ name: 'a', image: 'busybox:1' }]))).toBe(false);
    const pod = testPod('p', [
      { name: 'a', image: 'busybox:1', env: [podIPEnv('IP', 'status.podIPs')] },
    ]);
    expect(needsPodAddress(pod)).toBe(true);
    expect(addressesOf([{ address: '' }, { address: '10.88.0.7/16' }])).toEqual(['10.88.0.7']);
    expect(addressesOf(undefined)).toEqual([]);
  });

  it('commits the sandbox first, then makes the containers with its IP in their env', async () => {
    const { isolation, creator } = setup();
    const pod = testPod('ip', [
      {
        name: 'a',
        image: 'busybox:1',
        env: [podIPEnv('MY_IP', 'status.podIP'), podIPEnv('MY_IPS', 'status.podIPs')],
      },
    ]);
    const created = await creator.create(pod, await creator.pullImages(pod));
    expect(isolation.calls).toEqual([
      'create',
      'interaction',
      'logging',
      'commit',
      'info',
      `handle ${created.id}`,
      'image a',
      'task a',
      'commit',
    ]);
    const c = isolation.containers.get(created.id)!;
    expect(c.logging && c.interaction).toBe(true);
    expect(c.tasks[0].config.env).toEqual(
      expect.arrayContaining(['MY_IP=10.88.0.7', 'MY_IPS=10.88.0.7']),
    );
  });

  it('removes the sandbox again when a container cannot be made', async () => {
    const { isolation, creator } = setup();
    const pod = testPod('bad', [
      {
        name: 'a',
        image: 'busybox:1',
        env: [
          podIPEnv('MY_IP', 'status.podIP'),
          { name: 'X', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k' } } },
        ],
      },
    ]);
    await expect(creator.create(pod, await creator.pullImages(pod))).rejects.toBeInstanceOf(
      ContainerConfigError,
    );
    expect(isolation.containers.size).toBe(0);
  });
});
