// A pod that asks for a pod VM (annotation vic-kubelet.io/runtime: vm) on `vic-kubelet node
// --runtime runc`, under kubectl (TCG here): its two containers run in one pod VM — the guest's kernel and the pod's hostname, not the host's — and reaches Running; `kubectl
// logs` reads each container and honours --since-time; a container that exits 3 is restarted
// in the same VM with its last exit code reported, as with runc; deleting the pod powers the VM
// off and leaves no qemu. One VM boot.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureAgent, killQemus, qemuPids, waitNoQemu } from '../support/vm.js';
import { kubectl } from './cluster.js';
import { cleanupVch, ensureBuilt, main } from './docker-cli.js';
import {
  kubeConfigOf,
  servingCert,
  until,
  createTestNamespace,
  nodeFlags,
} from './node-harness.js';
import {
  buildBusyboxLayout,
  freePort,
  pushImage,
  type Registry,
  startRegistry,
} from './registry.js';

const cluster = inject('cluster');
const core = kubeConfigOf(cluster).makeApiClient(k8s.CoreV1Api);
const suffix = Math.random().toString(36).slice(2, 8);
const namespace = `vk-vm-${suffix}`;
const nodeName = `vk-vm-${suffix}`;

let work: string;
let stateDir: string;
let registry: Registry;
let image: string;
let node: ChildProcess | undefined;
let nodeOut = '';

beforeAll(async () => {
  ensureBuilt();
  ensureAgent();
  work = mkdtempSync(join(tmpdir(), 'vk-vm-node-'));
  stateDir = join(work, 'state');
  registry = await startRegistry();
  image = `${registry.host}/busybox:1`;
  await pushImage(await buildBusyboxLayout(join(work, 'image')), 'busybox', image);
  await createTestNamespace(core, namespace);
}, 180_000);

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => {});
  await until(
    'the test pods to be gone',
    async () => (await core.listNamespacedPod({ namespace })).items.length === 0,
    60_000,
  ).catch(() => {});
  if (node && node.exitCode === null && node.signalCode === null) {
    node.kill('SIGTERM');
    await new Promise((r) => node!.once('exit', r));
  }
  await core.deleteNode({ name: nodeName }).catch(() => {});
  if (work) {
    killQemus(work);
    waitNoQemu(work);
    await cleanupVch(stateDir);
  }
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

function apply(manifest: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      join(cluster.bin, 'kubectl'),
      ['--kubeconfig', cluster.kubeconfig, 'apply', '-f', '-'],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err))));
    child.stdin.end(JSON.stringify(manifest));
  });
}

const logs = (...args: string[]) => kubectl(cluster, 'logs', '-n', namespace, 'vmpod', ...args);

describe('a pod annotated vic-kubelet.io/runtime: vm on vic-kubelet node', () => {
  it('runs a two-container pod in one VM under kubectl; logs, restart, deletion', async () => {
    const tls = await servingCert(cluster, nodeName);
    const port = await freePort();
    node = spawn(
      process.execPath,
      [
        main,
        'node',
        ...nodeFlags(cluster.kubeconfig, nodeName, tls, port),
        '--state-dir',
        stateDir,
        '--runtime',
        'runc',
        '--bridge-network',
        'none',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    node.stdout?.on('data', (d: Buffer) => (nodeOut += d.toString()));
    node.stderr?.on('data', (d: Buffer) => (nodeOut += d.toString()));

    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      // The node's default is runc: the pod's annotation alone asks for the VM.
      metadata: { name: 'vmpod', namespace, annotations: { 'vic-kubelet.io/runtime': 'vm' } },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': nodeName },
        tolerations: [
          { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
        ],
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'app',
            image,
            command: [
              'sh',
              '-c',
              'echo "kernel $(uname -r) host $(hostname)"; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.5; done',
            ],
          },
          { name: 'crash', image, command: ['sh', '-c', 'echo try >&2; sleep 1; exit 3'] },
        ],
      },
    });
    const t0 = Date.now();
    const pod = await until(
      'vmpod Running, app ready, crash restarted with exit code 3',
      async () => {
        const p = await core.readNamespacedPod({ name: 'vmpod', namespace });
        const st = (n: string) => p.status?.containerStatuses?.find((c) => c.name === n);
        return (
          p.status?.phase === 'Running' &&
          st('app')?.ready &&
          (st('crash')?.restartCount ?? 0) >= 1 &&
          st('crash')?.lastState?.terminated?.exitCode === 3 &&
          p
        );
      },
      150_000,
    );
    expect(Date.now() - t0).toBeLessThan(150_000);
    expect(pod.status!.containerStatuses!.find((c) => c.name === 'app')!.restartCount).toBe(0);

    // One VM for the pod: the guest's kernel, the pod's hostname.
    expect(qemuPids(stateDir)).toHaveLength(1);
    const all = await until('ticks', async () => {
      const l = await logs('-c', 'app');
      return /tick 6\n/.test(l) && l;
    });
    const m = /^kernel (\S+) host (\S+)\n/.exec(all);
    expect(m, all).not.toBeNull();
    expect(m![1]).not.toBe(release());
    expect(m![2]).toBe('vmpod');
    expect(m![2]).not.toBe(hostname());
    expect(await logs('-c', 'crash')).toMatch(/^try\n/);

    // --since-time (whole seconds on the API): nothing stamped before it comes back.
    const stamped = (await logs('-c', 'app', '--timestamps')).trim().split('\n');
    const sinceSecond = stamped[stamped.length - 1].split(' ')[0].replace(/\.\d+Z$/, 'Z');
    const later = (await logs('-c', 'app', '--timestamps', `--since-time=${sinceSecond}`))
      .trim()
      .split('\n');
    expect(later.length).toBeGreaterThan(0);
    expect(later.length).toBeLessThan(stamped.length);
    for (const l of later)
      expect(Date.parse(l.split(' ')[0])).toBeGreaterThanOrEqual(Date.parse(sinceSecond));

    // Deleting the pod stops it: the VM is powered off, no qemu left.
    await kubectl(cluster, 'delete', 'pod', '-n', namespace, 'vmpod', '--wait=true');
    await until('no qemu left', async () => qemuPids(stateDir).length === 0, 30_000);
    // qemu may be gone a moment before the runtime says so.
    await until('the VM removed', async () => nodeOut.includes('"msg":"pod VM removed"'), 10_000);
  }, 240_000);
});
