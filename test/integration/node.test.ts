// The virtual kubelet against the real control plane: the Node turns Ready and its Lease
// renews; a pod the scheduler binds to it runs in the provider (a MemoryProvider with real
// iolog files) and its status shows in kubectl; `kubectl logs` with --since, --tail,
// --timestamps and -f goes through the apiserver to the kubelet API; the kubelet API refuses
// the unauthenticated (401) and the unauthorized (403); graceful and forced deletion; a
// restarted virtual kubelet does not recreate running pods.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { VirtualKubelet } from '../../src/node/virtual-kubelet.js';
import { kubectl } from './cluster.js';
import {
  kubeConfigOf,
  MemoryProvider,
  servingCert,
  type ServingCert,
  startKubelet,
  until,
  createTestNamespace,
} from './node-harness.js';

const cluster = inject('cluster');
const kc = kubeConfigOf(cluster);
const core = kc.makeApiClient(k8s.CoreV1Api);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);

const suffix = Math.random().toString(36).slice(2, 8);
const namespace = `node-${suffix}`;
const nodeName = `vk-${suffix}`;
const provider = new MemoryProvider(mkdtempSync(join(tmpdir(), 'vic-kubelet-memlogs-')));
let tls: ServingCert;
let vk: VirtualKubelet;

function podBody(name: string): k8s.V1Pod {
  return {
    metadata: { name },
    spec: {
      containers: [{ name: 'main', image: 'busybox' }],
      nodeSelector: { 'kubernetes.io/hostname': nodeName },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
      ],
    },
  };
}

async function phaseOf(name: string): Promise<string> {
  return kubectl(cluster, 'get', 'pod', '-n', namespace, name, '-o', 'jsonpath={.status.phase}');
}

async function gone(name: string): Promise<boolean> {
  try {
    await core.readNamespacedPod({ name, namespace });
    return false;
  } catch (e) {
    if (e instanceof k8s.ApiException && e.code === 404) return true;
    throw e;
  }
}

/** A GET to the kubelet API, with whatever credentials are given. */
function kubeletGet(
  path: string,
  auth: { cert?: string; key?: string; token?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: vk.port,
        path,
        ca: tls.clientCa,
        cert: auth.cert,
        key: auth.key,
        headers: auth.token ? { authorization: `Bearer ${auth.token}` } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => (body += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  tls = await servingCert(cluster, nodeName);
  await createTestNamespace(core, namespace);
  vk = await startKubelet(cluster, provider, nodeName, tls, {
    node: { leaseRenewMs: 1000 },
    pods: { statusPollMs: 1000 },
  });
});

afterAll(async () => {
  await vk?.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => {});
  await core.deleteNode({ name: nodeName }).catch(() => {});
});

describe('virtual kubelet node', () => {
  it('registers a Ready node with its labels, taint, address and kubelet port', async () => {
    const node = await until('the node to be Ready', async () => {
      const n = await core.readNode({ name: nodeName });
      return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && n;
    });
    expect(node.metadata?.labels).toMatchObject({
      type: 'virtual-kubelet',
      'kubernetes.io/role': 'agent',
      'kubernetes.io/os': 'linux',
    });
    // kube-controller-manager may still carry its not-ready taint for a moment: ours is there.
    expect(node.spec?.taints).toContainEqual(
      expect.objectContaining({
        key: 'virtual-kubelet.io/provider',
        value: 'vic',
        effect: 'NoSchedule',
      }),
    );
    expect(node.status?.addresses).toEqual([{ type: 'InternalIP', address: '127.0.0.1' }]);
    expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(vk.port);
    expect(node.status?.capacity).toMatchObject({ cpu: '8', pods: '1k' }); // the apiserver's canonical form of 1000;
    const ready = await kubectl(cluster, 'get', 'node', nodeName, '--no-headers');
    expect(ready).toMatch(new RegExp(`^${nodeName}\\s+Ready\\s+agent`));
  });

  it('keeps a 40 s Lease in kube-node-lease and renews it', async () => {
    const first = await coordination.readNamespacedLease({
      name: nodeName,
      namespace: 'kube-node-lease',
    });
    expect(first.spec?.holderIdentity).toBe(nodeName);
    expect(first.spec?.leaseDurationSeconds).toBe(40);
    expect(first.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Node', name: nodeName });
    const renewed = await until(
      'the lease to be renewed',
      async () => {
        const l = await coordination.readNamespacedLease({
          name: nodeName,
          namespace: 'kube-node-lease',
        });
        return (
          new Date(l.spec!.renewTime!).getTime() > new Date(first.spec!.renewTime!).getTime() && l
        );
      },
      10_000,
    );
    expect(renewed.spec?.holderIdentity).toBe(nodeName);
  });

  it('stops renewing the Lease while the provider fails ping, and resumes after', async () => {
    const renewTime = async () =>
      new Date(
        (await coordination.readNamespacedLease({ name: nodeName, namespace: 'kube-node-lease' }))
          .spec!.renewTime!,
      ).getTime();
    provider.pingError = new Error('the VCH does not answer');
    try {
      // Let a renewal already under way land, then watch 3 renewal periods go by.
      await new Promise((r) => setTimeout(r, 1500));
      const stalled = await renewTime();
      await new Promise((r) => setTimeout(r, 3000));
      expect(await renewTime()).toBe(stalled);
    } finally {
      provider.pingError = undefined;
    }
    const last = await renewTime();
    await until('the lease to be renewed again', async () => (await renewTime()) > last, 10_000);
  });

  it('registers the Node again when someone deletes it', async () => {
    const old = await core.readNode({ name: nodeName });
    await core.deleteNode({ name: nodeName });
    const again = await until('the node to come back', async () => {
      const n = await core.readNode({ name: nodeName });
      return n.metadata?.uid !== old.metadata?.uid && n;
    });
    expect(again.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(vk.port);
    expect(again.spec?.taints?.[0]?.key).toBe('virtual-kubelet.io/provider');
    // The lease follows the new Node.
    await until('the lease to be owned by the new node', async () => {
      const l = await coordination.readNamespacedLease({
        name: nodeName,
        namespace: 'kube-node-lease',
      });
      return l.metadata?.ownerReferences?.[0]?.uid === again.metadata?.uid;
    });
  });

  it('writes the node status at once when the provider reports a change', async () => {
    // The periodic write is every 60 s: seeing the change in seconds means it was pushed.
    provider.setReady('False', 'VCHUnreachable', 'the VCH does not answer');
    try {
      await until(
        'the node to be NotReady',
        async () => {
          const n = await core.readNode({ name: nodeName });
          const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
          return ready?.status === 'False' && ready.reason === 'VCHUnreachable';
        },
        5000,
      );
    } finally {
      provider.setReady('True', 'ProviderReady', 'the memory provider is ready');
    }
    await until('the node to be Ready again', async () => {
      const n = await core.readNode({ name: nodeName });
      return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
  });

  it('runs a pod the scheduler binds to it and reports its status', async () => {
    await core.createNamespacedPod({ namespace, body: podBody('web') });
    await until('the pod to be Running', async () => (await phaseOf('web')) === 'Running');
    expect(provider.calls).toContain(`create ${namespace}/web`);
    const row = await kubectl(cluster, 'get', 'pod', '-n', namespace, 'web', '--no-headers');
    expect(row).toMatch(/^web\s+1\/1\s+Running\s+0/);
    const pod = await core.readNamespacedPod({ name: 'web', namespace });
    expect(pod.spec?.nodeName).toBe(nodeName);
    expect(pod.status?.podIP).toBe('10.1.0.1');
  });

  it('writes the status only when it changed', async () => {
    // Polled every second here: three polls of an unchanged status write nothing.
    const before = (await core.readNamespacedPod({ name: 'web', namespace })).metadata
      ?.resourceVersion;
    await new Promise((r) => setTimeout(r, 3500));
    const after = (await core.readNamespacedPod({ name: 'web', namespace })).metadata
      ?.resourceVersion;
    expect(after).toBe(before);
  });

  it('passes a changed image to the provider, and not a changed label', async () => {
    await kubectl(cluster, 'label', 'pod', '-n', namespace, 'web', 'tier=front');
    await kubectl(cluster, 'set', 'image', '-n', namespace, 'pod/web', 'main=busybox:1.36');
    await until('the provider to get the new image', async () => {
      const p = await provider.getPod(namespace, 'web');
      return p?.spec?.containers[0]?.image === 'busybox:1.36';
    });
    expect(provider.calls.filter((c) => c === `update ${namespace}/web`)).toHaveLength(1);
  });

  it('serves kubectl logs with --since, --tail and --timestamps through the apiserver', async () => {
    const hourAgo = BigInt(Date.now() - 3600_000) * 1_000_000n;
    provider.logTime = hourAgo;
    await provider.log(namespace, 'web', 'main', 'old line\n');
    provider.logTime = undefined;
    await provider.log(namespace, 'web', 'main', 'new line 1\nnew line 2\n');
    await provider.log(namespace, 'web', 'main', 'an error\n', 1);

    expect(await kubectl(cluster, 'logs', '-n', namespace, 'web')).toBe(
      'old line\nnew line 1\nnew line 2\nan error\n',
    );
    expect(await kubectl(cluster, 'logs', '-n', namespace, 'web', '--since=10m')).toBe(
      'new line 1\nnew line 2\nan error\n',
    );
    expect(await kubectl(cluster, 'logs', '-n', namespace, 'web', '--tail=2')).toBe(
      'new line 2\nan error\n',
    );
    const stamped = await kubectl(
      cluster,
      'logs',
      '-n',
      namespace,
      'web',
      '--timestamps',
      '--tail=1',
    );
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z an error\n$/);
    expect(await kubectl(cluster, 'logs', '-n', namespace, 'web', '--limit-bytes=5')).toBe('old l');
  });

  it('follows a log with kubectl logs -f', async () => {
    const child = spawn(
      join(cluster.bin, 'kubectl'),
      ['--kubeconfig', cluster.kubeconfig, 'logs', '-f', '-n', namespace, 'web', '--tail=1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    try {
      await until('the tail', async () => out === 'an error\n', 15_000);
      await provider.log(namespace, 'web', 'main', 'followed line\n');
      await until('the followed line', async () => out === 'an error\nfollowed line\n', 15_000);
    } finally {
      child.kill();
    }
  });

  it('answers 401 without credentials, 403 when not allowed, 400 for bad log options', async () => {
    const logs = `/containerLogs/${namespace}/web/main`;
    const none = await kubeletGet(logs);
    expect(none.status).toBe(401);
    expect(none.body).not.toContain('line');
    expect((await kubeletGet('/pods', { token: 'not-a-token' })).status).toBe(401);

    // A service account's real token: authenticated, but not allowed nodes/proxy.
    await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: 'nobody' } },
    });
    const tr = await core.createNamespacedServiceAccountToken({
      name: 'nobody',
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const denied = await kubeletGet(logs, { token: tr.status!.token });
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('system:serviceaccount:');

    // The admin's certificate (system:masters) is allowed; bad options are refused.
    const user = kc.getCurrentUser()!;
    const admin = {
      cert: Buffer.from(user.certData!, 'base64').toString(),
      key: Buffer.from(user.keyData!, 'base64').toString(),
    };
    expect(await kubeletGet(`${logs}?tailLines=1`, admin)).toEqual({
      status: 200,
      body: 'followed line\n',
    });
    const both = await kubeletGet(`${logs}?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z`, admin);
    expect(both.status).toBe(400);
    expect(both.body).toContain('at most one of sinceTime or sinceSeconds');
    expect((await kubeletGet(`${logs}?tailLines=-1`, admin)).status).toBe(400);
    expect((await kubeletGet(`${logs}?limitBytes=0`, admin)).status).toBe(400);
    expect((await kubeletGet(`${logs}?tailLines=x`, admin)).status).toBe(400);
    expect((await kubeletGet(`/containerLogs/${namespace}/nope/main`, admin)).status).toBe(404);
    expect((await kubeletGet(`/containerLogs/${namespace}/web/nope`, admin)).status).toBe(404);
    expect((await kubeletGet('/healthz', admin)).body).toBe('ok');
    // exec is an upgrade (SPDY): a plain GET is a bad request.
    expect((await kubeletGet('/exec/a/b/c', admin)).status).toBe(400);
    expect((await kubeletGet('/stats/summary', admin)).status).toBe(501);
    expect((await kubeletGet('/nowhere', admin)).status).toBe(404);

    // Allowed nodes/stats only: /stats is authorized as nodes/stats, logs as nodes/proxy.
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: {
        metadata: { name: `${namespace}-stats` },
        rules: [{ apiGroups: [''], resources: ['nodes/stats'], verbs: ['get'] }],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `${namespace}-stats` },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: `${namespace}-stats`,
        },
        subjects: [{ kind: 'ServiceAccount', name: 'nobody', namespace }],
      },
    });
    try {
      // A denial is cached for 30 s, as the kubelet's webhook authorizer does: a first look
      // before the binding took effect holds that long.
      await until(
        'the binding to take effect',
        async () =>
          (await kubeletGet('/stats/summary', { token: tr.status!.token })).status === 501,
        45_000,
      );
      expect((await kubeletGet(logs, { token: tr.status!.token })).status).toBe(403);
    } finally {
      await rbac.deleteClusterRoleBinding({ name: `${namespace}-stats` }).catch(() => {});
      await rbac.deleteClusterRole({ name: `${namespace}-stats` }).catch(() => {});
    }
    const pods = JSON.parse((await kubeletGet('/pods', admin)).body);
    const web = pods.items.find((p: k8s.V1Pod) => p.metadata?.name === 'web');
    expect(web?.status?.phase).toBe('Running');
  });

  it('records ProviderCreateFailed and retries until the provider takes the pod', async () => {
    provider.createError = new Error('no room for the pod VM');
    await core.createNamespacedPod({ namespace, body: podBody('flaky') });
    await until('the ProviderCreateFailed event', async () => {
      const events = await core.listNamespacedEvent({
        namespace,
        fieldSelector: 'involvedObject.name=flaky',
      });
      // Retried with backoff: the repeats count up on one Event.
      const failed = events.items.filter((e) => e.reason === 'ProviderCreateFailed');
      return (
        failed.length === 1 &&
        failed[0]!.message === 'no room for the pod VM' &&
        failed[0]!.count! >= 3
      );
    });
    provider.createError = undefined;
    await until('the pod to be Running', async () => (await phaseOf('flaky')) === 'Running');
  });

  it('deletes gracefully: the provider stops the pod, then it leaves the API', async () => {
    provider.stopDelayMs = 2000;
    const started = Date.now();
    await kubectl(cluster, 'delete', 'pod', '-n', namespace, 'flaky', '--wait=false');
    // Still there while its containers take their time to stop…
    await new Promise((r) => setTimeout(r, 1000));
    expect(await gone('flaky')).toBe(false);
    expect(provider.calls).toContain(`delete ${namespace}/flaky`);
    // …and gone once they have, long before the 30 s grace period.
    await until('the pod to leave the API', () => gone('flaky'), 15_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(Date.now() - started).toBeLessThan(20_000);
    provider.stopDelayMs = 0;
  });

  it('removes a pod from the API when its grace period runs out, stopped or not', async () => {
    await core.createNamespacedPod({ namespace, body: podBody('slow') });
    await until('the pod to be Running', async () => (await phaseOf('slow')) === 'Running');
    provider.stopDelayMs = 60_000;
    try {
      const started = Date.now();
      await kubectl(
        cluster,
        'delete',
        'pod',
        '-n',
        namespace,
        'slow',
        '--grace-period=3',
        '--wait=false',
      );
      await until('the pod to leave the API', () => gone('slow'), 15_000);
      // The containers get their 3 s, counted from when the kubelet asked the provider to stop them.
      expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
      expect(provider.calls).toContain(`delete ${namespace}/slow`);
    } finally {
      provider.stopDelayMs = 0;
    }
  });

  it('records ProviderDeleteFailed and keeps the pod until the provider has stopped it', async () => {
    await core.createNamespacedPod({ namespace, body: podBody('stuck') });
    await until('the pod to be Running', async () => (await phaseOf('stuck')) === 'Running');
    provider.deleteError = new Error('the VCH refused to stop the pod VM');
    try {
      await kubectl(cluster, 'delete', 'pod', '-n', namespace, 'stuck', '--wait=false');
      await until('the ProviderDeleteFailed event', async () => {
        const events = await core.listNamespacedEvent({
          namespace,
          fieldSelector: 'involvedObject.name=stuck',
        });
        return events.items.some(
          (e) =>
            e.reason === 'ProviderDeleteFailed' &&
            e.message === 'the VCH refused to stop the pod VM',
        );
      });
      expect(await gone('stuck')).toBe(false);
    } finally {
      provider.deleteError = undefined;
    }
    await until('the pod to leave the API', () => gone('stuck'), 15_000);
  });

  it('deletes by force: a pod removed from the API at once is removed from the provider', async () => {
    await core.createNamespacedPod({ namespace, body: podBody('forced') });
    await until('the pod to be Running', async () => (await phaseOf('forced')) === 'Running');
    await kubectl(
      cluster,
      'delete',
      'pod',
      '-n',
      namespace,
      'forced',
      '--force',
      '--grace-period=0',
    );
    await until(
      'the provider to drop the pod',
      async () => !(await provider.getPod(namespace, 'forced')),
    );
    expect(provider.calls).toContain(`delete ${namespace}/forced`);
  });

  it('replaces a pod deleted and created again under the same name', async () => {
    await core.createNamespacedPod({ namespace, body: podBody('again') });
    await until('the pod to be Running', async () => (await phaseOf('again')) === 'Running');
    await kubectl(
      cluster,
      'delete',
      'pod',
      '-n',
      namespace,
      'again',
      '--force',
      '--grace-period=0',
    );
    const second = await core.createNamespacedPod({ namespace, body: podBody('again') });
    await until('the provider to run the new pod', async () => {
      const p = await provider.getPod(namespace, 'again');
      return p?.metadata?.uid === second.metadata?.uid;
    });
    await until('the new pod to be Running', async () => (await phaseOf('again')) === 'Running');
  });

  it('restarts without recreating running pods, and catches up with what changed meanwhile', async () => {
    await core.createNamespacedPod({ namespace, body: podBody('gone-while-down') });
    await until(
      'the pod to be Running',
      async () => (await phaseOf('gone-while-down')) === 'Running',
    );
    await vk.stop();
    const before = provider.calls.length;
    // While the virtual kubelet is down: one pod goes, one comes.
    await core.deleteNamespacedPod({ namespace, name: 'gone-while-down', gracePeriodSeconds: 0 });
    await until('the pod to leave the API', () => gone('gone-while-down'));
    await core.createNamespacedPod({
      namespace,
      body: { ...podBody('new-while-down'), spec: { ...podBody('x').spec!, nodeName } },
    });
    vk = await startKubelet(cluster, provider, nodeName, tls, { pods: { statusPollMs: 1000 } });
    await until(
      'the new pod to be Running',
      async () => (await phaseOf('new-while-down')) === 'Running',
    );
    await until(
      'the provider to drop the deleted pod',
      async () => !(await provider.getPod(namespace, 'gone-while-down')),
    );
    const since = provider.calls.slice(before);
    expect(since).toEqual(
      expect.arrayContaining([
        `create ${namespace}/new-while-down`,
        `delete ${namespace}/gone-while-down`,
      ]),
    );
    expect(since.filter((c) => c.startsWith('create '))).toEqual([
      `create ${namespace}/new-while-down`,
    ]);
    expect(await phaseOf('web')).toBe('Running');
    expect(await kubectl(cluster, 'logs', '-n', namespace, 'web', '--tail=1')).toBe(
      'followed line\n',
    );
  });
});
