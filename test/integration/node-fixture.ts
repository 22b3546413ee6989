// The setup that the node integration tests share: a work dir, a registry with the test
// busybox, a namespace of their own and a `vic-kubelet node` (embedded VCH) Ready in the
// cluster before the first test, and all of it gone after the last. useVicNode registers the
// file's beforeAll and afterAll hooks; a test adds its own steps through the hooks' options.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';
import { ensureAgent } from '../support/vm.js';
import type { ClusterInfo } from './cluster.js';
import { ensureBuilt } from './docker-cli.js';
import {
  createTestNamespace,
  kubeConfigOf,
  startVicNode,
  until,
  type VicNode,
} from './node-harness.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

/** What a node test works with; the fields set in beforeAll throw if read before it ran. */
export interface VicNodeFixture {
  readonly cluster: ClusterInfo;
  /** The cluster admin's kubeconfig. */
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  /** `vk-PREFIX-<random>`: the test's namespace, deleted after it. */
  readonly namespace: string;
  /** The same name as the namespace. */
  readonly nodeName: string;
  /** A temporary directory: the node's state is under `<work>/vch`. */
  readonly work: string;
  readonly registry: Registry;
  /** `<registry>/busybox:1`. */
  readonly image: string;
  readonly node: VicNode;
  /** The reference of `tag` (e.g. 'busybox:2', pushed with the `tags` option) in the registry. */
  ref(tag: string): string;
}

export interface VicNodeOptions {
  /** Names the namespace and the node `vk-PREFIX-<random>`, the work dir `vk-node-PREFIX-*`. */
  prefix: string;
  /** More flags for `vic-kubelet node`. */
  extra?: string[];
  /** More tags of the same busybox to push ('busybox:2'); ref(tag) names them. */
  tags?: string[];
  /** Builds the pod VM's guest agent first, for a test with pods on the vm runtime. */
  vm?: boolean;
  /** Runs once the image is pushed and the namespace exists, before the node starts. */
  beforeNode?: (t: VicNodeFixture) => Promise<void>;
  /** Runs once the node is Ready, as the last step of beforeAll. */
  afterNode?: (t: VicNodeFixture) => Promise<void>;
  /** Runs first in afterAll, before the namespace is deleted. */
  cleanup?: (t: VicNodeFixture) => Promise<void>;
  /** The beforeAll's timeout (180 s). */
  setupTimeout?: number;
  /** The afterAll's timeout (120 s). */
  teardownTimeout?: number;
  /** How long afterAll waits for the namespace's pods to go (30 s). */
  podsGoneTimeout?: number;
}

export function useVicNode(o: VicNodeOptions): VicNodeFixture {
  const cluster = inject('cluster');
  const kc = kubeConfigOf(cluster);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `vk-${o.prefix}-${Math.random().toString(36).slice(2, 8)}`;
  let work: string | undefined;
  let registry: Registry | undefined;
  let node: VicNode | undefined;
  const set = <T>(what: string, v: T | undefined): T => {
    if (v === undefined) throw new Error(`useVicNode: ${what} is set in beforeAll`);
    return v;
  };
  const t: VicNodeFixture = {
    cluster,
    kc,
    core,
    namespace: name,
    nodeName: name,
    get work() {
      return set('work', work);
    },
    get registry() {
      return set('registry', registry);
    },
    get image() {
      return t.ref('busybox:1');
    },
    get node() {
      return set('node', node);
    },
    ref: (tag) => `${t.registry.host}/${tag}`,
  };

  beforeAll(async () => {
    ensureBuilt();
    if (o.vm) ensureAgent();
    work = mkdtempSync(join(tmpdir(), `vk-node-${o.prefix}-`));
    registry = await startRegistry();
    const layout = await buildBusyboxLayout(join(work, 'image'));
    for (const tag of ['busybox:1', ...(o.tags ?? [])]) {
      await pushImage(layout, 'busybox', t.ref(tag));
    }
    await createTestNamespace(core, name);
    await o.beforeNode?.(t);
    node = await startVicNode(cluster, core, {
      name,
      work,
      registryHost: registry.host,
      extra: o.extra,
    });
    await o.afterNode?.(t);
  }, o.setupTimeout ?? 180_000);

  afterAll(async () => {
    await o.cleanup?.(t);
    await core.deleteNamespace({ name }).catch(() => {});
    await until(
      'the test pods to be gone',
      async () => (await core.listNamespacedPod({ namespace: name })).items.length === 0,
      o.podsGoneTimeout ?? 30_000,
    ).catch(() => {});
    // Stops its pod VMs too.
    await node?.stop();
    // rm -rf: a file it cannot remove does not keep the registry running.
    if (work) spawnSync('rm', ['-rf', work]);
    await registry?.stop();
  }, o.teardownTimeout ?? 120_000);

  return t;
}
