// `vic-kubelet node` with the VIC provider, as an operator runs it: the built CLI against the
// test control plane, with an embedded VCH (--state-dir) or a remote one (--vch, a `vic-kubelet
// vch serve`). kubectl applies a two-container pod, sees it Running and reads its logs; the
// Node's capacity is the VCH's /vch/info; a SIGKILLed node, started again, finds its pods
// still running (same start times, no restarts) and their logs carrying on.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PortlayerClient } from '../../src/providers/vic/proxy/portlayer-client.js';
import { vchEndpoints } from '../../src/vch/address.js';
import { kubectl } from './cluster.js';
import { cleanupVch, docker, ensureBuilt, main, startVch, type VchProcess } from './docker-cli.js';
import {
  kubeConfigOf,
  nodeKubeconfig,
  servingCert,
  type ServingCert,
  until,
  createTestNamespace,
  nodeFlags as harnessNodeFlags,
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
const namespace = `vk-vic-${suffix}`;

let work: string;
let registry: Registry;
let image: string;
let remote: VchProcess | undefined;
const nodes = new Set<NodeProcess>();
const nodeNames: string[] = [];
/** Pods keep to loopback: no bridge in the host's network namespace. */
const NO_BRIDGE = ['--bridge-network', 'none'];

interface NodeProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | NodeJS.Signals>;
}

function startNode(args: string[]): NodeProcess {
  const child = spawn(process.execPath, [main, 'node', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal!)),
  );
  const n = { child, output: () => out, exited };
  nodes.add(n);
  void exited.then(() => nodes.delete(n));
  return n;
}

async function stopNode(n: NodeProcess, signal: NodeJS.Signals = 'SIGTERM') {
  if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill(signal);
  const t = setTimeout(() => n.child.kill('SIGKILL'), 20_000);
  const r = await n.exited;
  clearTimeout(t);
  return r;
}

const nodeFlags = (name: string, tls: ServingCert, port: number) =>
  harnessNodeFlags(cluster.kubeconfig, name, tls, port);

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vk-node-vic-'));
  registry = await startRegistry();
  image = `${registry.host}/busybox:1`;
  await pushImage(await buildBusyboxLayout(join(work, 'image')), 'busybox', image);
  await createTestNamespace(core, namespace);
}, 180_000);

afterAll(async () => {
  // Pods first, while their nodes still run to delete them from the VCH.
  await core.deleteNamespace({ name: namespace }).catch(() => {});
  await until(
    'the test pods to be gone',
    async () => (await core.listNamespacedPod({ namespace })).items.length === 0,
    30_000,
  ).catch(() => {});
  for (const n of [...nodes]) await stopNode(n);
  for (const name of nodeNames) await core.deleteNode({ name }).catch(() => {});
  await cleanupVch(join(work, 'embedded'));
  await cleanupVch(join(work, 'ident'));
  if (remote) await cleanupVch(remote.stateDir, remote);
  await registry?.stop();
  spawnSync('rm', ['-rf', work]);
}, 120_000);

function podManifest(name: string, nodeName: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
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
          command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.3; done'],
        },
        { name: 'side', image, command: ['sh', '-c', 'echo "side car" >&2; sleep 3600'] },
      ],
    },
  });
}

function apply(manifest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      join(cluster.bin, 'kubectl'),
      ['--kubeconfig', cluster.kubeconfig, 'apply', '-f', '-'],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err))));
    child.stdin.end(manifest);
  });
}

const readPod = (name: string) => core.readNamespacedPod({ name, namespace });

async function running(name: string): Promise<k8s.V1Pod> {
  return until(
    `${name} to be Running with both containers ready`,
    async () => {
      const p = await readPod(name);
      return (
        p.status?.phase === 'Running' &&
        p.status.containerStatuses?.length === 2 &&
        p.status.containerStatuses.every((c) => c.ready) &&
        p
      );
    },
    90_000,
  );
}

async function ready(nodeName: string): Promise<k8s.V1Node> {
  return until(
    `${nodeName} to be Ready`,
    async () => {
      const n = await core.readNode({ name: nodeName });
      return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && n;
    },
    60_000,
  );
}

async function expectCapacityOf(node: k8s.V1Node, portlayer: string): Promise<void> {
  const info = await new PortlayerClient(portlayer).vchInfo();
  expect(node.status!.capacity).toEqual({
    cpu: String(info.numCPUs),
    memory: `${info.memory}Mi`,
    pods: String(info.maxPods),
    'ephemeral-storage': String(info.storageBytes),
  });
}

const lastTick = (logs: string) => Math.max(...[...logs.matchAll(/tick (\d+)/g)].map((m) => +m[1]));

describe('vic-kubelet node with an embedded VCH (--state-dir)', () => {
  const nodeName = `vk-vic-${suffix}`;
  nodeNames.push(nodeName);

  it('runs a pod under kubectl; a SIGKILLed node started again leaves it running and its logs going on', async () => {
    const tls = await servingCert(cluster, nodeName);
    const port = await freePort();
    const stateDir = join(work, 'embedded');
    const flags = [...nodeFlags(nodeName, tls, port), '--state-dir', stateDir, ...NO_BRIDGE];
    let node = startNode(flags);
    const first = await ready(nodeName);
    // The embedded VCH answers on its state directory's socket, the portlayer under /portlayer.
    await expectCapacityOf(first, `unix://${stateDir}/docker.sock#/portlayer`);

    // A second node on the same state directory is refused in one line: one VCH per state.
    const second = spawnSync(
      process.execPath,
      [main, 'node', ...nodeFlags(`${nodeName}-2`, tls, 0), '--state-dir', stateDir, ...NO_BRIDGE],
      { encoding: 'utf8', timeout: 30_000 },
    );
    // (Structured log lines may come first, e.g. which backend `--runtime auto` chose.)
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(
      /(^|\n)vic-kubelet: the VCH state directory .* is in use by process \d+\n$/,
    );
    expect(second.stderr).not.toMatch(/\n\s+at /);

    await apply(podManifest('web', nodeName));
    const before = await running('web');
    const logs = await until('ticks in kubectl logs', async () => {
      const l = await kubectl(cluster, 'logs', '-n', namespace, 'web', '-c', 'app');
      return /tick 3\n/.test(l) && l;
    });
    expect(logs.startsWith('tick 1\n')).toBe(true);
    expect(await kubectl(cluster, 'logs', '-n', namespace, 'web', '-c', 'side')).toBe('side car\n');
    // The docker CLI sees the same VCH: the pod's two containers.
    const ps = await docker(join(stateDir, 'docker.sock'), ['ps', '--format', '{{.Names}}']);
    expect(ps.stdout.trim().split('\n').sort()).toHaveLength(2);

    // Killed without warning: nothing is stopped, the containers keep running.
    const tickAtKill = lastTick(
      await kubectl(cluster, 'logs', '-n', namespace, 'web', '-c', 'app'),
    );
    expect(await stopNode(node, 'SIGKILL')).toBe('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    node = startNode(flags);
    await until(
      'the restarted node to say it is running',
      async () => node.output().includes('virtual kubelet running'),
      60_000,
    );
    await ready(nodeName);
    const after = await running('web');
    const starts = (p: k8s.V1Pod) =>
      p.status!.containerStatuses!.map((c) => [
        c.name,
        c.containerID,
        c.restartCount,
        String(c.state?.running?.startedAt),
      ]);
    expect(starts(after)).toEqual(starts(before));
    // The output went on while no node was there, and goes on now.
    const later = await until('more ticks after the restart', async () => {
      const l = await kubectl(cluster, 'logs', '-n', namespace, 'web', '-c', 'app');
      return lastTick(l) > tickAtKill + 5 && l;
    });
    const ticks = [...later.matchAll(/tick (\d+)/g)].map((m) => +m[1]);
    expect(ticks).toEqual(ticks.map((_, i) => i + 1)); // none lost, none twice
    await expectCapacityOf(await ready(nodeName), `unix://${stateDir}/docker.sock#/portlayer`);

    // SIGTERM: a clean stop, exit 0, the pod still running on the VCH.
    expect(await stopNode(node)).toBe(0);
    const ps2 = await docker(join(stateDir, 'docker.sock'), ['ps', '-q']).catch(() => undefined);
    // The VCH went with the node: its socket answers no more…
    expect(ps2?.code).not.toBe(0);
    // …but runc still runs the containers, which the next node picks up.
    node = startNode(flags);
    await ready(nodeName);
    expect(starts(await running('web'))).toEqual(starts(before));
    await core.deleteNamespacedPod({ name: 'web', namespace });
    await until(
      'the pod to be deleted',
      async () => (await core.listNamespacedPod({ namespace })).items.length === 0,
      60_000,
    );
    await until(
      'the pod to be gone from the VCH',
      async () => {
        const r = await docker(join(stateDir, 'docker.sock'), ['ps', '-aq']);
        return r.code === 0 && r.stdout === '';
      },
      30_000,
    );
  }, 300_000);
});

describe('vic-kubelet node driving a remote VCH (--vch)', () => {
  const nodeName = `vk-vic-remote-${suffix}`;
  nodeNames.push(nodeName);

  it('runs a pod on a `vch serve` reached at its socket', async () => {
    const stateDir = join(work, 'remote');
    const socket = join(work, 'remote.sock');
    const tcp = await freePort();
    remote = await startVch(stateDir, socket, ['--docker-tcp', `127.0.0.1:${tcp}`]);
    // The other form of a VCH's address reaches the same portlayer.
    const { portlayer } = vchEndpoints(`http://127.0.0.1:${tcp}`);
    expect((await new PortlayerClient(portlayer).vchInfo()).numCPUs).toBeGreaterThan(0);
    const tls = await servingCert(cluster, nodeName);
    startNode([...nodeFlags(nodeName, tls, await freePort()), '--vch', `unix://${socket}`]);
    await expectCapacityOf(await ready(nodeName), `unix://${socket}#/portlayer`);
    await apply(podManifest('far', nodeName));
    await running('far');
    await until('ticks in kubectl logs', async () =>
      /tick 2\n/.test(await kubectl(cluster, 'logs', '-n', namespace, 'far', '-c', 'app')),
    );
    const ps = await remote.docker(['ps', '--format', '{{.Names}}']);
    expect(ps.stdout.trim().split('\n')).toHaveLength(2);
    await core.deleteNamespacedPod({ name: 'far', namespace });
    await until(
      'the pod to be gone from the VCH',
      async () => {
        const r = await remote!.docker(['ps', '-aq']);
        return r.code === 0 && r.stdout === '';
      },
      60_000,
    );
  }, 180_000);
});

describe("vic-kubelet node with a node's own credentials", () => {
  const nodeName = `vk-vic-ident-${suffix}`;
  nodeNames.push(nodeName);

  it("registers, reads its pod's imagePullSecret and serves kubectl logs", async () => {
    // The image is only to be had with the secret's credentials: the pod runs only if the
    // node could read it.
    const locked = await startRegistry({ htpasswd: { bob: 'hunter2' } });
    const privateImage = `${locked.host}/secret/busybox:1`;
    await pushImage(join(work, 'image', 'oci'), 'busybox', privateImage, 'bob:hunter2');
    try {
      await runWithNodeCredentials(locked.host, privateImage);
    } finally {
      await locked.stop();
    }
  }, 180_000);

  async function runWithNodeCredentials(host: string, privateImage: string): Promise<void> {
    const kubeconfig = nodeKubeconfig(cluster, nodeName, join(work, 'ident-pki'));
    const tls = await servingCert(cluster, nodeName);
    const flags = nodeFlags(nodeName, tls, await freePort());
    flags[flags.indexOf('--kubeconfig') + 1] = kubeconfig;
    startNode([...flags, '--state-dir', join(work, 'ident'), ...NO_BRIDGE]);
    await ready(nodeName);
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'pull' },
        type: 'kubernetes.io/dockerconfigjson',
        stringData: {
          '.dockerconfigjson': JSON.stringify({
            auths: { [host]: { username: 'bob', password: 'hunter2' } },
          }),
        },
      },
    });
    const m = JSON.parse(podManifest('ident', nodeName)) as k8s.V1Pod;
    m.spec!.imagePullSecrets = [{ name: 'pull' }];
    for (const c of m.spec!.containers) c.image = privateImage;
    await apply(JSON.stringify(m));
    await running('ident');
    await until('ticks in kubectl logs', async () =>
      /tick 2\n/.test(await kubectl(cluster, 'logs', '-n', namespace, 'ident', '-c', 'app')),
    );
    await core.deleteNamespacedPod({ name: 'ident', namespace });
    await until(
      'the pod to be deleted',
      async () =>
        !(await core.listNamespacedPod({ namespace })).items.some(
          (p) => p.metadata?.name === 'ident',
        ),
      60_000,
    );
  }
});

describe('vic-kubelet node flags', () => {
  it('answers mistakes with one line and status 2', async () => {
    const tls = await servingCert(cluster, 'flags');
    const base = nodeFlags('flags', tls, 0);
    const cases: [string[], string][] = [
      [base, 'vic-kubelet: --state-dir DIR is required (or --vch URL for a remote VCH)\n'],
      [
        [...base, '--vch', 'tcp://127.0.0.1:2375'],
        'vic-kubelet: --vch "tcp://127.0.0.1:2375": want unix:///PATH or http://HOST:PORT\n',
      ],
      [
        [...base, '--vch', 'unix:///run/vch.sock', '--insecure-registry', 'r:5000'],
        "vic-kubelet: --insecure-registry is the VCH's setting: give it to the VCH that --vch names\n",
      ],
      [
        [...base, '--state-dir', join(work, 'x'), '--insecure-registry', 'a b'],
        'vic-kubelet: --insecure-registry "a b": want HOST[:PORT]\n',
      ],
      [
        [...base, '--state-dir', join(work, 'x'), '--runtime', 'kvm'],
        'vic-kubelet: --runtime "kvm": want runc, vm or auto\n',
      ],
      [
        [...base, '--vch', 'unix:///run/vch.sock', '--runtime', 'vm'],
        "vic-kubelet: --runtime is the VCH's setting: give it to the VCH that --vch names\n",
      ],
      [
        [...base, '--state-dir', join(work, 'x'), '--provider-module', 'm.mjs'],
        'vic-kubelet: --provider-module runs its own provider: --vch, --state-dir, --runtime, --bridge-network, --max-layer-expansion and --insecure-registry do not go with it\n',
      ],
      [
        [...base, '--state-dir', join(work, 'x'), '--max-pods', '0'],
        `vic-kubelet: --max-pods "0": want a whole number from 1 to ${Number.MAX_SAFE_INTEGER}\n`,
      ],
      [
        [...base, '--vch', 'unix:///run/vch.sock', '--max-pods', '500'],
        "vic-kubelet: --max-pods is the embedded VCH's setting: it goes with --state-dir\n",
      ],
      [
        [...base, '--state-dir', join(work, 'x'), '--cluster-dns', 'kube-dns'],
        'vic-kubelet: --cluster-dns "kube-dns": want IP addresses, comma-separated\n',
      ],
      [
        [...base, '--provider-module', 'm.mjs', '--cluster-dns', '10.96.0.10'],
        "vic-kubelet: --cluster-dns is the VIC provider's setting: it does not go with --provider-module\n",
      ],
      [
        [...base, '--state-dir', `/tmp/${'d'.repeat(120)}`],
        `vic-kubelet: --state-dir /tmp/${'d'.repeat(120)}: too long for its socket docker.sock (at most 95 bytes)\n`,
      ],
    ];
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [main, 'node', ...args], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect({ args, stderr: r.stderr, status: r.status }).toEqual({
        args,
        stderr: message,
        status: 2,
      });
    }
    spawnSync('rm', ['-rf', `/tmp/${'d'.repeat(120)}`]);
  });
});
