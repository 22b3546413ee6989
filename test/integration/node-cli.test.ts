// `vic-kubelet node` as an operator runs it: the built CLI registers a Ready node, runs a pod
// through a provider module, writes one JSON line per event, and on SIGTERM stops cleanly
// (exit 0) leaving the pod where it is.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, inject, it, onTestFinished } from 'vitest';
import { kubeConfigOf, servingCert, until } from './node-harness.js';

const cluster = inject('cluster');
const root = fileURLToPath(new URL('../..', import.meta.url));
const main = join(root, 'dist', 'cli', 'main.js');
const core = kubeConfigOf(cluster).makeApiClient(k8s.CoreV1Api);
const nodeName = `vk-cli-${Math.random().toString(36).slice(2, 8)}`;

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'cli', 'node.js'))) {
    const r = spawnSync('npx', ['tsc', '-p', '.'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
  }
}, 120_000);

afterAll(async () => {
  await core
    .deleteNamespacedPod({ name: nodeName, namespace: 'default', gracePeriodSeconds: 0 })
    .catch(() => {});
  await core.deleteNode({ name: nodeName }).catch(() => {});
});

it('runs a node until SIGTERM, then exits 0 and leaves its pods', async () => {
  const tls = await servingCert(cluster, nodeName);
  const child = spawn(
    process.execPath,
    [
      main,
      'node',
      '--kubeconfig',
      cluster.kubeconfig,
      '--node-name',
      nodeName,
      '--node-ip',
      '127.0.0.1',
      '--address',
      '127.0.0.1',
      '--port',
      '0',
      '--tls-cert-file',
      tls.files.cert,
      '--tls-private-key-file',
      tls.files.key,
      '--client-ca-file',
      tls.files.clientCa,
      '--provider-module',
      join(root, 'test', 'doubles', 'cli-provider.mjs'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await until('the node to be Ready', async () => {
      const n = await core.readNode({ name: nodeName });
      return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: nodeName },
        spec: { nodeName, containers: [{ name: 'main', image: 'busybox' }] },
      },
    });
    await until('the pod to be Running', async () => {
      const p = await core.readNamespacedPod({ name: nodeName, namespace: 'default' });
      return p.status?.phase === 'Running';
    });
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  const lines = stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; level: number });
  expect(lines.map((l) => l.msg)).toEqual(
    expect.arrayContaining(['node registered', 'virtual kubelet running', 'stopped']),
  );
  // Shutdown leaves the pod alone: it is still there, not terminating.
  const pod = await core.readNamespacedPod({ name: nodeName, namespace: 'default' });
  expect(pod.metadata?.deletionTimestamp).toBeUndefined();
});

it('waits for an apiserver that is not there yet, and still stops at SIGTERM', async () => {
  const tls = await servingCert(cluster, nodeName);
  // The cluster's kubeconfig, but pointing at a port where nothing listens.
  const deadDir = mkdtempSync(join(tmpdir(), 'vic-kubelet-cli-'));
  onTestFinished(() => rmSync(deadDir, { recursive: true, force: true }));
  const dead = join(deadDir, 'kubeconfig');
  const free = createServer();
  await new Promise<void>((ok) => free.listen(0, '127.0.0.1', ok));
  const port = (free.address() as AddressInfo).port;
  free.close();
  writeFileSync(
    dead,
    readFileSync(cluster.kubeconfig, 'utf8').replace(
      /server: .*/,
      `server: https://127.0.0.1:${port}`,
    ),
  );
  const child = spawn(
    process.execPath,
    [
      main,
      'node',
      '--kubeconfig',
      dead,
      '--node-name',
      `${nodeName}-dead`,
      '--node-ip',
      '127.0.0.1',
      '--address',
      '127.0.0.1',
      '--port',
      '0',
      '--tls-cert-file',
      tls.files.cert,
      '--tls-private-key-file',
      tls.files.key,
      '--provider-module',
      join(root, 'test', 'doubles', 'cli-provider.mjs'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await until(
      'two failed registrations',
      async () => (stderr.match(/registering the node failed; retrying/g) ?? []).length >= 2,
    );
    expect(child.exitCode).toBeNull();
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
});

it('refuses bad flags with one line and status 2', () => {
  const r = spawnSync(
    process.execPath,
    [
      main,
      'node',
      '--kubeconfig',
      cluster.kubeconfig,
      '--node-name',
      'x',
      '--node-ip',
      'not-an-ip',
      '--provider-module',
      'm.mjs',
    ],
    { encoding: 'utf8' },
  );
  expect(r.status).toBe(2);
  expect(r.stderr).toBe('vic-kubelet: --node-ip "not-an-ip" is not an IP address\n');
});
