// Many virtual nodes in one cluster: three `vic-kubelet node` processes, each with an embedded
// VCH of its own (own state directory, runc), one Node each, in a control plane of this file's
// own whose controller-manager notices a silent node within seconds. A Deployment of 60
// replicas spreads over all three; one node is killed with SIGKILL and stays down. Its runc
// containers keep running — the VCH is embedded in the node process, but a runc container is
// not its child (as VIC's container VMs outlive their VCH appliance) — so the node's pods are
// really still there while the cluster moves on: the node goes NotReady, the taint-based
// eviction removes its pods (short tolerationSeconds), the Deployment's replacements run on
// the other two. The operator then marks the node out of service (non-graceful node
// shutdown), so the pod garbage collector deletes its pods from the API; the node comes back
// on the same state directory, removes the containers of those pods, and once the operator
// lifts the taint it takes pods again.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from './cluster.js';
import { cleanupVch, docker, ensureBuilt, main } from './docker-cli.js';
import {
  createTestNamespace,
  kubeConfigOf,
  nodeFlags,
  nodeKubeconfig,
  servingCert,
  until,
} from './node-harness.js';
import {
  buildBusyboxLayout,
  freePort,
  pushImage,
  type Registry,
  startRegistry,
} from './registry.js';

const REPLICAS = 60;
const namespace = 'multi';
const suffix = Math.random().toString(36).slice(2, 6);
const names = ['a', 'b', 'c'].map((n) => `vk-multi-${n}-${suffix}`);
const victim = names[2]!;
/** The taint of non-graceful node shutdown: the pod GC deletes the node's terminating pods. */
const OUT_OF_SERVICE = 'node.kubernetes.io/out-of-service';
/** The test image has /bin/sh only; busybox's sh runs its applets itself. */
const SLEEP = ['sh', '-c', 'sleep 3600'];

let cluster: Cluster | undefined;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let registry: Registry | undefined;
let work: string;
let image: string;
const nodes = new Map<string, RunningNode>();

/** A `vic-kubelet node` process of this test, which can be killed and started again. */
interface RunningNode {
  child: ReturnType<typeof spawn>;
  output(): string;
  exited: Promise<void>;
}

/** The node's work directory: kubeconfig, serving certificate, the VCH's state. */
const dirOf = (name: string) => join(work, name);
const vchOf = (name: string) => join(dirOf(name), 'vch');

async function startNode(name: string): Promise<RunningNode> {
  const tls = await servingCert(cluster!, name);
  const kubeconfig = nodeKubeconfig(cluster!, name, join(dirOf(name), 'pki'));
  const child = spawn(
    process.execPath,
    [
      main,
      'node',
      ...nodeFlags(kubeconfig, name, tls, await freePort()),
      '--state-dir',
      vchOf(name),
      '--insecure-registry',
      registry!.host,
      '--runtime',
      'runc',
      '--bridge-network',
      'none',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  const node = {
    child,
    output: () => out,
    exited: new Promise<void>((r) => child.once('exit', () => r())),
  };
  nodes.set(name, node);
  return node;
}

const readyOf = async (name: string) =>
  (await core.readNode({ name })).status?.conditions?.find((c) => c.type === 'Ready')?.status;

async function untilReady(name: string): Promise<void> {
  await until(`${name} to be Ready`, async () => (await readyOf(name)) === 'True', 90_000).catch(
    (e: Error) => {
      throw new Error(`${e.message}\n${nodes.get(name)?.output().slice(-3000)}`);
    },
  );
}

const podsOfApp = async () =>
  (await core.listNamespacedPod({ namespace, labelSelector: 'app=spread' })).items;

/** Pods on `node` that run and are Ready (their container up, not crash-looping). */
const runningOn = (pods: k8s.V1Pod[], node: string) =>
  pods.filter(
    (p) =>
      p.spec?.nodeName === node &&
      p.status?.phase === 'Running' &&
      p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
      !p.metadata?.deletionTimestamp,
  ).length;

/** The runc containers of a node's embedded VCH (its runc root), running or not. */
function runcContainers(name: string): string[] {
  const root = join(vchOf(name), 'runtime', 'runc', 'runc');
  if (!existsSync(root)) return [];
  const r = spawnSync('runc', ['--root', root, 'list', '--format', 'json'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || 'null') as { id: string; status: string }[] | null;
  return (list ?? []).map((c) => `${c.id} ${c.status}`);
}

describe('three virtual nodes in one cluster', () => {
  beforeAll(async () => {
    ensureBuilt();
    work = mkdtempSync(join(tmpdir(), 'vk-multi-'));
    // A node silent for 20 s (two missed lease renewals) is NotReady; checked every 2 s.
    process.env.CLUSTER_ARGS_KUBE_CONTROLLER_MANAGER =
      '--node-monitor-grace-period=20s --node-monitor-period=2s';
    try {
      cluster = await startCluster();
    } finally {
      delete process.env.CLUSTER_ARGS_KUBE_CONTROLLER_MANAGER;
    }
    const kc = kubeConfigOf(cluster);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    registry = await startRegistry();
    image = `${registry.host}/busybox:1`;
    await pushImage(await buildBusyboxLayout(join(work, 'image')), 'busybox', image);
    await createTestNamespace(core, namespace);
    for (const name of names) await startNode(name);
    for (const name of names) await untilReady(name);
  }, 300_000);

  afterAll(async () => {
    await apps?.deleteNamespacedDeployment({ name: 'spread', namespace }).catch(() => {});
    for (const [, node] of nodes) {
      if (node.child.exitCode === null && node.child.signalCode === null) {
        node.child.kill('SIGTERM');
        await node.exited;
      }
    }
    // Whatever ran is removed through runc; mounts and state go with the directory.
    for (const name of names) await cleanupVch(vchOf(name));
    await cluster?.stop();
    await registry?.stop();
    if (work) spawnSync('rm', ['-rf', work]);
  }, 300_000);

  it('spreads 60 replicas, moves a dead node’s pods, and cleans up when it returns', async () => {
    const started = Date.now();
    const lap = (what: string) =>
      console.log(`multi-node: ${what} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'spread' },
        spec: {
          replicas: REPLICAS,
          selector: { matchLabels: { app: 'spread' } },
          template: {
            metadata: { labels: { app: 'spread' } },
            spec: {
              terminationGracePeriodSeconds: 1,
              tolerations: [
                { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
                // Moved within seconds of their node going silent (the default is 300 s).
                ...['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'].map(
                  (key) => ({
                    key,
                    operator: 'Exists',
                    effect: 'NoExecute',
                    tolerationSeconds: 2,
                  }),
                ),
              ],
              containers: [{ name: 'sleep', image, command: SLEEP }],
            },
          },
        },
      },
    });

    // All 60 run, on all three nodes.
    const spread = await until(
      `${REPLICAS} replicas Running`,
      async () => {
        const pods = await podsOfApp();
        const counts = names.map((n) => runningOn(pods, n));
        return counts.reduce((a, b) => a + b, 0) === REPLICAS && counts;
      },
      600_000,
    );
    lap(`${REPLICAS} Running, spread ${spread.join('/')}`);
    for (const n of spread) expect(n).toBeGreaterThanOrEqual(5);
    const victimPods = (await podsOfApp())
      .filter((p) => p.spec?.nodeName === victim)
      .map((p) => p.metadata!.name!);
    // Two runc containers a pod: its sandbox (pause) and its container.
    expect(runcContainers(victim).filter((c) => c.endsWith(' running'))).toHaveLength(
      2 * victimPods.length,
    );

    // SIGKILL: no goodbye. Its containers keep running without it.
    const dead = nodes.get(victim)!;
    dead.child.kill('SIGKILL');
    await dead.exited;
    expect(runcContainers(victim).filter((c) => c.endsWith(' running'))).toHaveLength(
      2 * victimPods.length,
    );

    await until(
      `${victim} to go NotReady`,
      async () => (await readyOf(victim)) === 'Unknown',
      90_000,
    );
    lap(`${victim} NotReady`);
    // Evicted (Terminating: nobody can confirm they stopped) and replaced on the other two.
    await until(
      'the replacements to run on the two live nodes',
      async () => {
        const pods = await podsOfApp();
        const evicted = pods.filter(
          (p) => p.spec?.nodeName === victim && p.metadata?.deletionTimestamp,
        ).length;
        const live = runningOn(pods, names[0]!) + runningOn(pods, names[1]!);
        return evicted === victimPods.length && live === REPLICAS;
      },
      300_000,
    );
    lap('replacements Running on the live nodes');

    // The operator confirms the node is down: its pods leave the API for good.
    await taint(victim, true);
    await until(
      `the pod GC to delete ${victim}'s pods`,
      async () => (await podsOfApp()).every((p) => p.spec?.nodeName !== victim),
      120_000,
    );
    lap(`${victim}'s pods deleted from the API`);
    expect(runcContainers(victim).filter((c) => c.endsWith(' running'))).toHaveLength(
      2 * victimPods.length,
    );

    // Back on the same state directory: it finds those containers and removes them.
    await startNode(victim);
    await until(
      `${victim} to remove the containers of pods the API no longer has`,
      async () =>
        runcContainers(victim).length === 0 &&
        (await docker(join(vchOf(victim), 'docker.sock'), ['ps', '-aq'])).stdout.trim() === '',
      120_000,
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}\n${runcContainers(victim).join('\n')}\n${nodes.get(victim)?.output().slice(-3000)}`,
      );
    });
    lap(`${victim} restarted and removed its stale containers`);
    await taint(victim, false);
    await untilReady(victim);

    // And it takes pods again.
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'back' },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': victim },
          tolerations: [
            { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
          ],
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'sleep', image, command: SLEEP }],
        },
      },
    });
    await until(
      `a new pod to run on ${victim}`,
      async () =>
        (await core.readNamespacedPod({ name: 'back', namespace })).status?.phase === 'Running',
      120_000,
    );
    lap(`a new pod Running on ${victim}`);
    // The Deployment stayed whole throughout the return.
    const pods = await podsOfApp();
    expect(runningOn(pods, names[0]!) + runningOn(pods, names[1]!)).toBe(REPLICAS);
    await core.deleteNamespacedPod({ name: 'back', namespace, gracePeriodSeconds: 1 });
  }, 1_200_000);
});

/** Puts the out-of-service taint on a node, or takes it off. */
async function taint(name: string, on: boolean): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const node = await core.readNode({ name });
    const others = (node.spec?.taints ?? []).filter((t) => t.key !== OUT_OF_SERVICE);
    node.spec = {
      ...node.spec,
      taints: on
        ? [...others, { key: OUT_OF_SERVICE, value: 'nodeshutdown', effect: 'NoExecute' }]
        : others,
    };
    try {
      await core.replaceNode({ name, body: node });
      return;
    } catch (e) {
      // A conflict with the node's own status update: read it again.
      if (attempt > 5) throw e;
    }
  }
}
