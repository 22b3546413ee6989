// Usage figures end to end: `vic-kubelet node` with an embedded VCH runs a busy busybox pod;
// its kubelet API's /stats/summary decodes strictly as k8s.io/kubelet's stats/v1alpha1 Summary
// (test/metrics-server/summary-check) with non-zero CPU and memory for the pod, and
// /metrics/resource passes `promtool check metrics`; a real metrics-server, registered as the
// metrics.k8s.io APIService, scrapes the node, and `kubectl top node` and `kubectl top pod`
// print non-zero CPU and memory.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl } from './cluster.js';
import { type MetricsServer, metricsTool, startMetricsServer } from './metrics-server.js';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

let metrics: MetricsServer | undefined;

const vic = useVicNode({
  prefix: 'stats',
  extra: ['--runtime', 'runc'],
  cleanup: async () => {
    await metrics?.stop();
  },
});
const { cluster, kc, core, namespace, nodeName } = vic;

/** A pod that spins a CPU and holds a few MiB (an 8 MB shell variable), so both read non-zero. */
function busyPod(name: string, annotations?: Record<string, string>): k8s.V1Pod {
  const pod = podOn(nodeName, namespace, name, {
    containers: [
      {
        name: 'spin',
        image: vic.image,
        command: ['sh', '-c', 'x=$(head -c 8000000 /dev/zero | tr "\\0" a); while :; do :; done'],
      },
    ],
  });
  if (annotations) pod.metadata!.annotations = annotations;
  return pod;
}

async function running(name: string): Promise<void> {
  await until(
    `${name} to run`,
    async () => (await core.readNamespacedPod({ name, namespace })).status?.phase === 'Running',
    90_000,
  );
}

/** A GET of the node's kubelet API as the cluster admin (client certificate). */
function kubeletGet(path: string): Promise<{ status: number; type?: string; body: string }> {
  const user = kc.getCurrentUser()!;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: vic.node.port,
        path,
        rejectUnauthorized: false,
        cert: Buffer.from(user.certData!, 'base64'),
        key: Buffer.from(user.keyData!, 'base64'),
      },
      async (res) => {
        let body = '';
        for await (const c of res) body += c;
        resolve({ status: res.statusCode!, type: res.headers['content-type'], body });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** kubectl top's CPU ("950m", "2") in millicores and memory ("12Mi", "3Gi") in MiB. */
function parseTop(line: string): { cpuMillis: number; memMiB: number } {
  const cols = line.trim().split(/\s+/);
  const cpu = cols[1];
  const mem = cols.find((c, i) => i > 1 && /^\d+(Ki|Mi|Gi)$/.test(c))!;
  const cpuMillis = cpu.endsWith('m') ? Number(cpu.slice(0, -1)) : Number(cpu) * 1000;
  const n = Number(/^\d+/.exec(mem)![0]);
  const memMiB = mem.endsWith('Gi') ? n * 1024 : mem.endsWith('Ki') ? n / 1024 : n;
  return { cpuMillis, memMiB };
}

/** The Summary's entry for pod `name`, read twice a few seconds apart (so with a rate). */
async function summaryOf(name: string) {
  await kubeletGet('/stats/summary');
  await new Promise((r) => setTimeout(r, 3000));
  const r = await kubeletGet('/stats/summary');
  expect(r.status).toBe(200);
  const check = spawnSync(metricsTool('summary-check'), { input: r.body, encoding: 'utf8' });
  expect(check.stderr).toBe('');
  return JSON.parse(r.body).pods.find((p: { podRef: { name: string } }) => p.podRef.name === name);
}

/** `kubectl top pod NAME`'s figures, once metrics-server has them. */
async function topPod(name: string) {
  const line = await until(
    `kubectl top pod ${name} to answer`,
    async () => {
      if (metrics!.exited()) throw new Error('metrics-server exited');
      const out = await kubectl(cluster, 'top', 'pod', '-n', namespace, name).catch(() => '');
      return out.split('\n').find((l) => l.startsWith(`${name} `));
    },
    120_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${metrics!.output().slice(-3000)}`);
  });
  return parseTop(line);
}

describe('node stats (runc)', () => {
  it('serves /stats/summary as the kubelet’s Summary, with the busy pod’s figures', async () => {
    await core.createNamespacedPod({ namespace, body: busyPod('spin') });
    await running('spin');
    // Two reads a few seconds apart: the second has a rate between them.
    await kubeletGet('/stats/summary');
    await new Promise((r) => setTimeout(r, 3000));
    const r = await kubeletGet('/stats/summary');
    expect(r).toMatchObject({ status: 200, type: 'application/json' });
    const check = spawnSync(metricsTool('summary-check'), { input: r.body, encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.stdout).toMatch(new RegExp(`^node ${nodeName}, \\d+ pods`));
    const s = JSON.parse(r.body);
    expect(s.node.cpu.usageCoreNanoSeconds).toBeGreaterThan(0);
    expect(s.node.memory.workingSetBytes).toBeGreaterThan(0);
    const pod = s.pods.find((p: { podRef: { name: string } }) => p.podRef.name === 'spin');
    expect(pod.podRef.namespace).toBe(namespace);
    const c = pod.containers[0];
    expect(c.name).toBe('spin');
    // A spinning loop: most of a core (at least a tenth, on two shared cores).
    expect(c.cpu.usageNanoCores).toBeGreaterThan(100_000_000);
    expect(c.cpu.usageCoreNanoSeconds).toBeGreaterThan(0);
    expect(c.memory.workingSetBytes).toBeGreaterThan(4_000_000);
    expect(c.memory.rssBytes).toBeGreaterThan(4_000_000);
    expect(c.rootfs.capacityBytes).toBeGreaterThan(0);
    expect(c.logs.capacityBytes).toBeGreaterThan(0);
    expect(pod.memory.workingSetBytes).toBe(c.memory.workingSetBytes);
  }, 150_000);

  it('lists a pod’s volumes in the Summary: emptyDir and token volume figures', async () => {
    const body = podOn(nodeName, namespace, 'vols', {
      containers: [
        {
          name: 'app',
          image: vic.image,
          command: ['sh', '-c', 'head -c 3000000 /dev/urandom > /scratch/f; sleep 3600'],
          volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
        },
      ],
      volumes: [{ name: 'scratch', emptyDir: {} }],
    });
    await core.createNamespacedPod({ namespace, body });
    await running('vols');
    const pod = await until(
      'the emptyDir’s bytes in the Summary',
      async () => {
        const p = await summaryOf('vols');
        const scratch = p?.volume?.find((v: { name: string }) => v.name === 'scratch');
        return scratch?.usedBytes >= 3_000_000 && p;
      },
      60_000,
    );
    const byName = new Map<string, Record<string, number>>(
      pod.volume.map((v: { name: string }) => [v.name, v]),
    );
    const scratch = byName.get('scratch')!;
    expect(scratch.inodesUsed).toBe(1);
    expect(scratch.capacityBytes).toBeGreaterThan(scratch.usedBytes);
    expect(scratch.availableBytes).toBeGreaterThan(0);
    const token = [...byName].find(([n]) => n.startsWith('kube-api-access-'))?.[1];
    // token, ca.crt and namespace with the ..data scheme's links and directory.
    expect(token?.inodesUsed).toBeGreaterThanOrEqual(7);
    // The emptyDir is on the node's disk: part of the pod's ephemeral storage.
    expect(pod['ephemeral-storage'].usedBytes).toBeGreaterThanOrEqual(3_000_000);
  }, 150_000);

  it('serves /metrics/resource that promtool accepts, with the pod’s series', async () => {
    const r = await kubeletGet('/metrics/resource');
    expect(r.status).toBe(200);
    const file = join(vic.work, 'resource.prom');
    writeFileSync(file, r.body);
    const lint = spawnSync('bash', ['-c', 'promtool check metrics < "$1"', '_', file], {
      encoding: 'utf8',
    });
    expect(lint.stdout + lint.stderr).toBe('');
    expect(lint.status).toBe(0);
    const labels = `{container="spin",namespace="${namespace}",pod="spin"}`;
    const cpu = new RegExp(`^container_cpu_usage_seconds_total${labels} ([0-9.e+]+) \\d+$`, 'm');
    expect(Number(cpu.exec(r.body)?.[1])).toBeGreaterThan(0);
    expect(r.body).toMatch(/^node_memory_working_set_bytes [1-9][0-9.e+]* \d+$/m);
    expect(r.body).toMatch(/^resource_scrape_error 0$/m);
  });

  it('`kubectl top node` and `kubectl top pod` through a real metrics-server', async () => {
    metrics = await startMetricsServer(cluster, vic.work);
    const top = async (...args: string[]) => {
      if (metrics!.exited())
        throw new Error(`metrics-server exited:\n${metrics!.output().slice(-3000)}`);
      try {
        return await kubectl(cluster, 'top', ...args);
      } catch {
        return undefined; // metrics not available yet: it needs two scrapes
      }
    };
    const nodeLine = await until(
      'kubectl top node to answer',
      async () => (await top('node', nodeName))?.split('\n').find((l) => l.startsWith(nodeName)),
      120_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${metrics!.output().slice(-3000)}`);
    });
    const n = parseTop(nodeLine);
    expect(n.cpuMillis).toBeGreaterThan(0);
    expect(n.memMiB).toBeGreaterThan(0);
    const podLine = await until(
      'kubectl top pod to answer',
      async () =>
        (await top('pod', '-n', namespace, 'spin'))?.split('\n').find((l) => l.startsWith('spin')),
      120_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${metrics!.output().slice(-3000)}`);
    });
    const p = parseTop(podLine);
    expect(p.cpuMillis).toBeGreaterThan(100);
    expect(p.memMiB).toBeGreaterThanOrEqual(4);
  }, 300_000);
});

describe('node stats (vm)', () => {
  it('a pod VM’s container: figures from the guest’s cgroup, in the Summary and kubectl top', async () => {
    await core.createNamespacedPod({
      namespace,
      body: busyPod('spin-vm', { 'vic-kubelet.io/runtime': 'vm' }),
    });
    await running('spin-vm');
    const pod = await summaryOf('spin-vm');
    const c = pod.containers[0];
    expect(c.cpu.usageNanoCores).toBeGreaterThan(100_000_000);
    expect(c.memory.workingSetBytes).toBeGreaterThan(4_000_000);
    expect(c.memory.rssBytes).toBeGreaterThan(4_000_000);
    expect(c.logs.capacityBytes).toBeGreaterThan(0);
    if (!metrics) throw new Error('metrics-server is started by the runc test before this one');
    const p = await topPod('spin-vm');
    expect(p.cpuMillis).toBeGreaterThan(100);
    expect(p.memMiB).toBeGreaterThanOrEqual(4);
  }, 300_000);
});
