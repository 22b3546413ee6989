// 1000 pods through one virtual kubelet with the default client rate limit (100 QPS, burst
// 200): all reach Running in the API, then all are deleted gracefully and leave it. A control
// plane of its own, so the load does not slow the other test files down.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VirtualKubelet } from '../../src/node/virtual-kubelet.js';
import { type Cluster, startCluster } from './cluster.js';
import {
  kubeConfigOf,
  MemoryProvider,
  servingCert,
  startKubelet,
  until,
  defaultServiceAccount,
} from './node-harness.js';

const PODS = 1000;
const nodeName = 'vk-scale';
const namespace = 'default';
const enabled = process.env.VIC_KUBELET_SCALE === '1';
let cluster: Cluster;
let vk: VirtualKubelet | undefined;
const provider = new MemoryProvider(mkdtempSync(join(tmpdir(), 'vic-kubelet-memlogs-')));

describe.runIf(enabled)('scale', () => {
  beforeAll(async () => {
    cluster = await startCluster();
    const tls = await servingCert(cluster, nodeName);
    vk = await startKubelet(cluster, provider, nodeName, tls); // default QPS, burst, 5 s poll
  }, 120_000);

  afterAll(async () => {
    await vk?.stop();
    await cluster?.stop();
  }, 60_000);

  async function inBatches(n: number, work: (i: number) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < n; i += 50)
      await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => work(i + j)));
  }

  it(`moves ${PODS} pods to Running and deletes them`, async () => {
    const core = kubeConfigOf(cluster).makeApiClient(k8s.CoreV1Api);
    await defaultServiceAccount(core, namespace);
    const started = Date.now();
    await inBatches(PODS, (i) =>
      core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: `p${i}`, labels: { app: 'scale' } },
          spec: { nodeName, containers: [{ name: 'main', image: 'busybox' }] },
        },
      }),
    );
    const created = Date.now();
    const running = async () =>
      (await core.listNamespacedPod({ namespace, labelSelector: 'app=scale' })).items.filter(
        (p) => p.status?.phase === 'Running',
      ).length;
    await until('all pods Running', async () => (await running()) === PODS, 120_000);
    const allRunning = Date.now();
    await core.deleteCollectionNamespacedPod({ namespace, labelSelector: 'app=scale' });
    await until(
      'all pods gone',
      async () =>
        (await core.listNamespacedPod({ namespace, labelSelector: 'app=scale' })).items.length ===
        0,
      120_000,
    );
    const allGone = Date.now();
    // The provider forgets a stopped pod a moment after it stopped.
    await until('the provider to forget them', async () => provider.pods.size === 0, 5000);
    expect(provider.calls.filter((c) => c.startsWith('create '))).toHaveLength(PODS);
    console.log(
      `${PODS} pods: created in ${created - started} ms, all Running ${allRunning - started} ms ` +
        `after the first, all gone ${allGone - allRunning} ms after the delete`,
    );
  }, 300_000);
});
