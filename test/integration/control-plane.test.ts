// Smoke test of the control plane that scripts/cluster.sh brings up: the real kube-apiserver
// answers @kubernetes/client-node and kubectl, and kube-controller-manager does its work.
// The apiserver reaching a kubelet (`kubectl logs`) is proven against vic-kubelet's own kubelet
// API in node.test.ts, not against a stand-in.
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubectl } from './cluster.js';

const cluster = inject('cluster');
const kc = new k8s.KubeConfig();
kc.loadFromFile(cluster.kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);

const suffix = Math.random().toString(36).slice(2, 8);
const namespace = `smoke-${suffix}`;
const nodeName = `smoke-node-${suffix}`;

function isNotFound(e: unknown): boolean {
  return e instanceof k8s.ApiException && e.code === 404;
}

/** Polls `probe` until it returns true; fails with `what` after `ms`. */
async function until(what: string, probe: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // The node the pod is bound to. Without a Node object kube-controller-manager's pod garbage
  // collector would delete the pod as orphaned. (kubectl logs through the apiserver to a real
  // kubelet API is proven by node.test.ts, against vic-kubelet's own node.)
  await core.createNode({
    body: {
      metadata: { name: nodeName },
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      },
    },
  });
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => {});
  await core.deleteNode({ name: nodeName }).catch(() => {});
});

describe('control plane', () => {
  it('is ready and reports one Kubernetes version from server and kubectl', async () => {
    expect(await kubectl(cluster, 'get', '--raw', '/readyz')).toBe('ok');
    const v = JSON.parse(await kubectl(cluster, 'version', '-o', 'json'));
    expect(v.serverVersion.gitVersion).toMatch(/^v1\.34\.\d+$/);
    expect(v.clientVersion.gitVersion).toBe(v.serverVersion.gitVersion);
  });

  it('runs kube-controller-manager: the namespace gets its default service account', async () => {
    // The serviceaccount controller creates it; pods cannot be admitted until it exists.
    await until('the default service account', async () => {
      try {
        await core.readNamespacedServiceAccount({ name: 'default', namespace });
        return true;
      } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
      }
    });
  });

  it('creates, reads back, watches and deletes a pod bound to a node', async () => {
    const events: { type: string; uid: string }[] = [];
    const watch = await new k8s.Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      {},
      (type, obj: k8s.V1Pod) => events.push({ type, uid: obj.metadata?.uid ?? '' }),
      () => {},
    );
    try {
      const created = await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: 'pod-a', labels: { app: 'smoke' } },
          spec: { nodeName, containers: [{ name: 'main', image: 'busybox' }] },
        },
      });
      const uid = created.metadata?.uid ?? '';
      expect(uid).not.toBe('');

      const read = await core.readNamespacedPod({ name: 'pod-a', namespace });
      expect(read.metadata?.uid).toBe(uid);
      expect(read.spec?.nodeName).toBe(nodeName);
      expect(read.metadata?.labels).toEqual({ app: 'smoke' });
      await until('the watch to see the pod added', async () =>
        events.some((e) => e.type === 'ADDED' && e.uid === uid),
      );

      // No kubelet will confirm a graceful deletion, so delete at once, as --force would.
      await core.deleteNamespacedPod({ name: 'pod-a', namespace, gracePeriodSeconds: 0 });
      await until('the watch to see the pod deleted', async () =>
        events.some((e) => e.type === 'DELETED' && e.uid === uid),
      );
      await expect(core.readNamespacedPod({ name: 'pod-a', namespace })).rejects.toSatisfy(
        isNotFound,
      );
    } finally {
      watch.abort();
    }
  });
});
