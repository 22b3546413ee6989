import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../logging/logger.js';
import { FakeVolumeStore, mapSources } from '../../../../../test/support/fake-volumes.js';
import { testPod } from '../../../../../test/support/pods.js';
import { volumeRequest } from './plan.js';
import { VolumeUpdater } from './volume-updater.js';

async function setup(volumes: k8s.V1Volume[]) {
  let pod = testPod('web', [{ name: 'app' }], { volumes });
  const store = new FakeVolumeStore();
  for (const v of volumes) await store.createVolume(volumeRequest(pod, v, 'p1'));
  const sources = mapSources({
    configMaps: { 'default/settings': { data: { mode: 'blue' } } },
  });
  const evictions: string[] = [];
  const updater = new VolumeUpdater({
    pod: () => pod,
    store,
    sources,
    node: async () => ({ allocatable: {}, hostIPs: [] }),
    log: silentLogger(),
    onEvict: (m) => evictions.push(m),
  });
  return {
    store,
    sources,
    updater,
    evictions,
    setPod: (p: k8s.V1Pod) => (pod = p),
    pod: () => pod,
  };
}

describe('VolumeUpdater', () => {
  it('rewrites a volume when its ConfigMap changes, and only then', async () => {
    const { store, sources, updater } = await setup([
      { name: 'cfg', configMap: { name: 'settings' } },
    ]);
    await updater.sync();
    expect(store.filesOf('cfg')).toEqual({ mode: 'blue' });
    await updater.sync();
    expect(store.volumes.get('uid-web-cfg')!.writes).toBe(1);
    sources.configMaps['default/settings'] = { data: { mode: 'green', extra: '1' } };
    await updater.sync();
    expect(store.filesOf('cfg')).toEqual({ mode: 'green', extra: '1' });
    // Read by name each time, never listed.
    expect(new Set(sources.reads)).toEqual(new Set(['cm default/settings']));
  });

  it('a ConfigMap that is gone leaves the volume as it was', async () => {
    const { store, sources, updater } = await setup([
      { name: 'cfg', configMap: { name: 'settings' } },
    ]);
    await updater.sync();
    delete sources.configMaps['default/settings'];
    await updater.sync();
    expect(store.filesOf('cfg')).toEqual({ mode: 'blue' });
  });

  it('labels changed on the pod reach a downwardAPI volume', async () => {
    const { store, updater, setPod, pod } = await setup([
      {
        name: 'info',
        downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] },
      },
    ]);
    await updater.sync();
    expect(store.filesOf('info')).toEqual({ labels: '' });
    setPod({ ...pod(), metadata: { ...pod().metadata, labels: { tier: 'web' } } });
    await updater.sync();
    expect(store.filesOf('info')).toEqual({ labels: 'tier="web"' });
  });

  it("an emptyDir over its sizeLimit evicts the pod with the kubelet's message", async () => {
    const { store, updater, evictions } = await setup([
      { name: 'scratch', emptyDir: { sizeLimit: '1Mi' } },
    ]);
    store.volumes.get('uid-web-scratch')!.usageBytes = 2 ** 20;
    await updater.sync();
    expect(evictions).toEqual([]);
    store.volumes.get('uid-web-scratch')!.usageBytes = 2 ** 20 + 1;
    await updater.sync();
    expect(evictions).toEqual(['Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ']);
  });
});
