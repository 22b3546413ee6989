// An apiserver restart loses no pod event: the virtual kubelet's watch resumes (or lists
// again on 410 Gone) and sees a pod created and a pod deleted right after the apiserver is
// back. Restarting the apiserver would break the other test files that share the run's
// control plane, so this file starts a control plane of its own (startCluster), and restarts
// its kube-apiserver with the same command line (its pid file is in the cluster directory).
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { VirtualKubelet } from '../../src/node/virtual-kubelet.js';
import { type Cluster, kubectl, startCluster } from './cluster.js';
import {
  kubeConfigOf,
  MemoryProvider,
  servingCert,
  startKubelet,
  until,
  defaultServiceAccount,
} from './node-harness.js';

let cluster: Cluster;
let vk: VirtualKubelet | undefined;
const nodeName = 'vk-restart';
const namespace = 'default';
// This provider pushes its status changes (notifyPods): the controller does not poll, so the
// Running status below arrives by push.
const provider = new MemoryProvider(
  mkdtempSync(join(tmpdir(), 'vic-kubelet-memlogs-')),
  '127.0.0.1',
  {
    push: true,
  },
);
const logLines: string[] = [];

async function restartApiserver(): Promise<void> {
  const pidFile = join(cluster.dir, 'run', 'kube-apiserver.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((s) => s !== '');
  // SIGTERM first; an apiserver with watchers (the controller-manager's, the scheduler's)
  // stops listening at once but takes a minute to exit, so after 3 s it is killed, as a
  // crashed apiserver would be.
  const exited = async () => {
    try {
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2];
      return state === 'Z';
    } catch {
      return true;
    }
  };
  process.kill(pid, 'SIGTERM');
  await until('the apiserver to exit', exited, 3000).catch(() => process.kill(pid, 'SIGKILL'));
  await until('the apiserver to exit', exited);
  const log = openSync(join(cluster.dir, 'logs', 'kube-apiserver.log'), 'a');
  // A session of its own, as scripts/cluster.sh starts it, so `down` finds and stops it.
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  writeFileSync(pidFile, `${child.pid}\n`);
  child.unref();
  await until(
    'the apiserver to be ready again',
    async () => (await kubectl(cluster, 'get', '--raw', '/readyz')) === 'ok',
    60_000,
  );
}

beforeAll(async () => {
  cluster = await startCluster();
  const tls = await servingCert(cluster, nodeName);
  // The kubelet's own log lines, to tell how the watch came back.
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  vk = await startKubelet(cluster, provider, nodeName, tls, { log });
}, 120_000);

afterAll(async () => {
  await vk?.stop();
  await cluster?.stop();
}, 60_000);

it('sees pod events that happen right after an apiserver restart', async () => {
  const core = kubeConfigOf(cluster).makeApiClient(k8s.CoreV1Api);
  const pod = (name: string): k8s.V1Pod => ({
    metadata: { name },
    spec: { nodeName, containers: [{ name: 'main', image: 'busybox' }] },
  });
  await defaultServiceAccount(core, namespace);
  await core.createNamespacedPod({ namespace, body: pod('before') });
  await until('the first pod in the provider', async () => provider.getPod(namespace, 'before'));

  await restartApiserver();
  // At once, before the kubelet's watch has had time to come back.
  const fresh = kubeConfigOf(cluster).makeApiClient(k8s.CoreV1Api);
  await fresh.createNamespacedPod({ namespace, body: pod('after') });
  await fresh.deleteNamespacedPod({ namespace, name: 'before', gracePeriodSeconds: 0 });

  await until(
    'the new pod in the provider',
    async () => provider.getPod(namespace, 'after'),
    60_000,
  );
  await until(
    'the deleted pod to leave the provider',
    async () => !(await provider.getPod(namespace, 'before')),
    60_000,
  );
  await until(
    'the new pod to be Running',
    async () =>
      (await kubectl(cluster, 'get', 'pod', 'after', '-o', 'jsonpath={.status.phase}')) ===
      'Running',
    60_000,
  );
  // Asked once: a provider that keeps reporting the pod while it stops is not asked again.
  expect(provider.calls.filter((c) => c === `delete ${namespace}/before`)).toHaveLength(1);
  // The watch did break and come back (not a test that passes with the watch never down).
  expect(logLines.some((l) => /watch.*(failed|gone)/.test(l))).toBe(true);
}, 180_000);
