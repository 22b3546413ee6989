import type * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../logging/logger.js';
import type { PodEvent } from '../../node/provider.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../test/support/fake-proxies.js';
import { eventually, testPod } from '../../../test/support/pods.js';
import type { EnvSources } from './operations/env-sources.js';
import { VicProvider } from './vic-provider.js';

const providers: VicProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
});

function setup() {
  const isolation = new FakeIsolationProxy();
  const images = new FakeImageStore();
  images.addToRegistry('busybox:latest');
  const configMaps = new Map<string, Record<string, string>>();
  const reads: string[] = [];
  const sources: EnvSources = {
    configMap: async (ns, name) => {
      reads.push(`cm ${ns}/${name}`);
      const data = configMaps.get(name);
      return data && { metadata: { name, namespace: ns }, data };
    },
    secret: async () => undefined,
    services: async () => [],
    service: async () => undefined,
  };
  const provider = new VicProvider({
    isolation,
    imageStore: images,
    nodeIP: '10.0.0.9',
    log: silentLogger(),
    envSources: sources,
    configRetryMs: 50,
  });
  providers.push(provider);
  const pushed: k8s.V1Pod[] = [];
  const events: PodEvent[] = [];
  provider.notifyPods((pod) => pushed.push(pod));
  provider.notifyEvents((_pod, e) => events.push(e));
  const last = () => pushed[pushed.length - 1]?.status;
  return { isolation, images, provider, configMaps, reads, last, events };
}

describe('VicProvider: env from the API', () => {
  it('a missing ConfigMap: Pending, CreateContainerConfigError and an Event; it starts once the ConfigMap is there', async () => {
    const { provider, configMaps, reads, last, events, images, isolation } = setup();
    await provider.createPod(
      testPod('cfg', [
        { name: 'a', image: 'busybox:latest', envFrom: [{ configMapRef: { name: 'settings' } }] },
      ]),
    );
    await eventually(
      () => last()?.containerStatuses?.[0].state?.waiting?.reason === 'CreateContainerConfigError',
    );
    expect(last()!.phase).toBe('Pending');
    expect(last()!.containerStatuses![0].state!.waiting!.message).toBe(
      'configmap "settings" not found',
    );
    expect(events.find((e) => e.reason === 'Failed')).toEqual({
      type: 'Warning',
      reason: 'Failed',
      message: 'Error: configmap "settings" not found',
      container: 'a',
    });
    // Tried again, by itself, without pulling the image again.
    await eventually(() => reads.length >= 3);
    expect(isolation.calls.filter((c) => c === 'create')).toHaveLength(0);
    configMaps.set('settings', { GREETING: 'hello' });
    await eventually(() => last()?.phase === 'Running');
    expect(images.pulls).toHaveLength(1);
    const vp = provider.cache.get('default', 'cfg')!;
    expect(vp.info!.tasks.find((t) => t.name === 'a')!.processConfig.env).toContain(
      'GREETING=hello',
    );
  });

  it('an unsupported valueFrom fails the pod at once (InvalidInput), not a retried config', async () => {
    const { provider } = setup();
    const pod = testPod('file', [
      {
        name: 'a',
        env: [{ name: 'X', valueFrom: { fileKeyRef: { volumeName: 'v', path: 'p', key: 'k' } } }],
      },
    ]);
    await expect(provider.createPod(pod)).rejects.toMatchObject({ kind: 'InvalidInput' });
  });
});
