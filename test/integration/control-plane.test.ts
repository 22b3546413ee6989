// Smoke test of the control plane that scripts/cluster.sh brings up: the real kube-apiserver
// answers @kubernetes/client-node and kubectl, kube-controller-manager does its work, and the
// apiserver reaches a kubelet the way vic-kubelet's node will be reached (`kubectl logs`).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

/**
 * A stand-in for the kubelet's HTTPS API, serving one container log. Its serving certificate
 * is signed by the cluster's CA key, as vic-kubelet's will be, and it demands a client
 * certificate from that CA, as a kubelet does. vic-kubelet's node/ replaces it once it exists;
 * here it checks the apiserver's --kubelet-* wiring, which is what scripts/cluster.sh promises.
 */
async function startKubeletEndpoint(): Promise<{
  server: Server;
  port: number;
  callers: string[];
}> {
  const pki = join(cluster.dir, 'pki');
  const run = promisify(execFile);
  const key = join(cluster.dir, 'smoke-kubelet.key');
  const csr = join(cluster.dir, 'smoke-kubelet.csr');
  const crt = join(cluster.dir, 'smoke-kubelet.crt');
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  await run('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${nodeName}`, '-out', csr]);
  await run('bash', [
    '-c',
    'openssl x509 -req -in "$1" -CA "$2/ca.crt" -CAkey "$2/ca.key" -CAcreateserial -days 1 ' +
      '-extfile <(printf "subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth") -out "$3"',
    '_',
    csr,
    pki,
    crt,
  ]);
  const callers: string[] = [];
  const server = createServer(
    {
      key: readFileSync(key),
      cert: readFileSync(crt),
      ca: readFileSync(join(pki, 'ca.crt')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      callers.push(String((req.socket as TLSSocket).getPeerCertificate().subject.CN));
      if (req.method === 'GET' && req.url?.startsWith(`/containerLogs/${namespace}/pod-b/main`)) {
        res.end('hello from the kubelet\n');
      } else {
        res.writeHead(404).end();
      }
    },
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as AddressInfo).port, callers };
}

let kubelet: Awaited<ReturnType<typeof startKubeletEndpoint>>;

beforeAll(async () => {
  kubelet = await startKubeletEndpoint();
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // The node the pod is bound to. Without a Node object kube-controller-manager's pod garbage
  // collector would delete the pod as orphaned; its address and port lead to the stand-in.
  await core.createNode({
    body: {
      metadata: { name: nodeName },
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } },
      },
    },
  });
});

afterAll(async () => {
  kubelet?.server.close();
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

  it('reaches the kubelet with its client certificate for kubectl logs', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'pod-b' },
        spec: { nodeName, containers: [{ name: 'main', image: 'busybox' }] },
      },
    });
    const logs = await kubectl(cluster, 'logs', '-n', namespace, 'pod-b', '-c', 'main');
    expect(logs).toBe('hello from the kubelet\n');
    expect(kubelet.callers).toEqual(['kube-apiserver-kubelet-client']);
  });
});
