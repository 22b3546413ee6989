// Pod networking on a Kubernetes node, end to end: the control plane, a registry and
// `vic-kubelet node` with its VCH on a bridge network, all inside a network namespace the test
// creates (netns-stack.ts). The node probes the pod IP from its own namespace, as a kubelet does:
// an httpGet readiness probe holds Ready False until the server answers; a tcpSocket liveness
// probe whose port closes restarts the container; grpc probes call google.golang.org/grpc's
// health server (test/grpc-health, in the image as /bin/grpc-health) in the pod. A hostPort
// answers on the node's IP, a pod VM's too; one that another pod holds refuses the pod in one
// line; one out of range is refused by the apiserver and never reaches the node.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuest } from '../../src/runtime/vm/guest-build.js';
import { grpcHealthServer } from './grpc-health.js';
import { NODE_IP, type NetnsStack, startNetnsStack } from './netns-stack.js';
import { until } from './node-harness.js';

const SUBNET = '10.126.0.0/24';
const NS = 'probes';

let work: string;
let stack: NetnsStack;

interface PodJson {
  status?: {
    phase?: string;
    podIP?: string;
    hostIP?: string;
    message?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number; ready: boolean }[];
  };
}

const pod = (name: string) => stack.get<PodJson>('pod', name, NS);
const ready = (p: PodJson) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status;

function podYaml(name: string, script: string, extra: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': stack.nodeName },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
      ],
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'app', image: stack.image, command: ['sh', '-c', script], ...extra }],
    },
  });
}

async function apply(json: string): Promise<void> {
  const file = join(work, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, json);
  await stack.kubectl('apply', '-f', file);
}

beforeAll(async () => {
  // The pod VMs' guest, built (or found in the cache) out here: inside the stack's namespace
  // there is no way to the Debian archive its kernel comes from.
  await buildGuest();
  work = mkdtempSync(join(tmpdir(), 'vic-net-probes-'));
  stack = await startNetnsStack({
    work,
    bridgeNetwork: SUBNET,
    imageFiles: { 'bin/grpc-health': grpcHealthServer() },
  });
  await stack.kubectl('create', 'namespace', NS);
  await until(
    'the default service account',
    async () => (await stack.kubectl('get', 'sa', '-n', NS, '-o', 'name')).includes('default'),
    30_000,
  );
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('network probes on vic-kubelet node (runc, on the bridge)', () => {
  it('an httpGet readiness probe holds Ready False until the server answers', async () => {
    // The server comes up after 8 s.
    const script =
      'mkdir -p /www && echo ok > /www/healthz && busybox sleep 8 && exec busybox httpd -f -p 8080 -h /www';
    await apply(
      podYaml('web', script, {
        readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
      }),
    );
    const running = await until(
      'web to run',
      async () => {
        const p = await pod('web');
        return p.status?.phase === 'Running' && p;
      },
      60_000,
    );
    expect(running.status?.podIP).toMatch(/^10\.126\.0\.\d+$/);
    expect(ready(running)).toBe('False');
    const readyAt = await until(
      'web to be Ready',
      async () => {
        const p = await pod('web');
        return ready(p) === 'True' && p;
      },
      60_000,
    );
    expect(readyAt.status?.containerStatuses?.[0].ready).toBe(true);
    // The server answers on the pod IP from the node's namespace, as the probe saw it.
    expect(
      stack.netns.run('busybox', [
        'wget',
        '-q',
        '-O',
        '-',
        `http://${readyAt.status!.podIP}:8080/healthz`,
      ]),
    ).toBe('ok\n');
  }, 180_000);

  it('a tcpSocket liveness probe whose port closes restarts the container', async () => {
    // Listens for 5 s, then closes its port and lives on.
    const script =
      'busybox httpd -f -p 9000 -h / & pid=$!; busybox sleep 5; kill $pid; exec busybox sleep 600';
    await apply(
      podYaml('live', script, {
        livenessProbe: { tcpSocket: { port: 9000 }, periodSeconds: 1, failureThreshold: 2 },
      }),
    );
    const restarted = await until(
      'live to restart',
      async () => {
        const p = await pod('live');
        return (p.status?.containerStatuses?.[0].restartCount ?? 0) >= 1 && p;
      },
      90_000,
    );
    expect(restarted.status?.phase).toBe('Running');
    const events = JSON.parse(
      await stack.kubectl(
        'get',
        'events',
        '-n',
        NS,
        '--field-selector',
        'involvedObject.name=live',
        '-o',
        'json',
      ),
    ) as { items: { reason: string; message: string }[] };
    const unhealthy = events.items.find((e) => e.reason === 'Unhealthy');
    expect(unhealthy?.message).toMatch(/^Liveness probe failed: dial tcp 10\.126\.0\.\d+:9000: /);
    expect(events.items.map((e) => e.reason)).toContain('Killing');
  }, 180_000);
});

async function eventsOf(name: string): Promise<{ reason: string; message: string }[]> {
  const list = JSON.parse(
    await stack.kubectl(
      'get',
      'events',
      '-n',
      NS,
      '--field-selector',
      `involvedObject.name=${name}`,
      '-o',
      'json',
    ),
  ) as { items: { reason: string; message: string }[] };
  return list.items;
}

describe('grpc probes on vic-kubelet node (runc, on the bridge)', () => {
  it('a grpc readiness probe (with a service name) holds Ready False until the server is SERVING', async () => {
    await apply(
      podYaml('grpc-ready', 'busybox sleep 8; exec grpc-health -port 9090 -service app', {
        readinessProbe: { grpc: { port: 9090, service: 'app' }, periodSeconds: 1 },
      }),
    );
    const running = await until(
      'grpc-ready to run',
      async () => {
        const p = await pod('grpc-ready');
        return p.status?.phase === 'Running' && p;
      },
      60_000,
    );
    expect(ready(running)).toBe('False');
    await until(
      'grpc-ready to be Ready',
      async () => ready(await pod('grpc-ready')) === 'True',
      60_000,
    );
    // While it was down, the probe said why, in the kubelet's words.
    const unhealthy = (await eventsOf('grpc-ready')).find((e) => e.reason === 'Unhealthy');
    expect(unhealthy?.message).toMatch(
      /^Readiness probe failed: error: failed to connect service at "10\.126\.0\.\d+:9090": /,
    );
  }, 180_000);

  it('a grpc liveness probe that gets NOT_SERVING restarts the container: Unhealthy, Killing', async () => {
    await apply(
      podYaml('grpc-live', 'exec grpc-health -port 9091 -fail-after 5s', {
        livenessProbe: { grpc: { port: 9091 }, periodSeconds: 1, failureThreshold: 2 },
      }),
    );
    const restarted = await until(
      'grpc-live to restart',
      async () => {
        const p = await pod('grpc-live');
        return (p.status?.containerStatuses?.[0].restartCount ?? 0) >= 1 && p;
      },
      90_000,
    );
    expect(restarted.status?.phase).toBe('Running');
    const events = await eventsOf('grpc-live');
    expect(events.filter((e) => e.reason === 'Unhealthy').map((e) => e.message)).toContain(
      'Liveness probe failed: service unhealthy (responded with "NOT_SERVING")',
    );
    expect(events.find((e) => e.reason === 'Killing')?.message).toBe(
      'Container app failed liveness probe, will be restarted',
    );
  }, 180_000);
});

describe('hostPort on vic-kubelet node (runc)', () => {
  it("answers on the node's IP; a second pod asking for it is refused in one line; it goes with the pod", async () => {
    const script =
      'mkdir -p /www && echo hp > /www/index.html && exec busybox httpd -f -p 80 -h /www';
    const ports = { ports: [{ containerPort: 80, hostPort: 8088 }] };
    await apply(podYaml('hp', script, ports));
    const running = await until(
      'hp to run',
      async () => {
        const p = await pod('hp');
        return p.status?.phase === 'Running' && p;
      },
      60_000,
    );
    expect(running.status?.hostIP).toBe(NODE_IP);
    let answer = '';
    for (let i = 0; i < 30 && answer === ''; i++) {
      try {
        answer = stack.netns.run('busybox', ['wget', '-q', '-O', '-', `http://${NODE_IP}:8088/`]);
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(answer).toBe('hp\n');

    // Bound by hand: the scheduler's NodePorts filter would keep it Pending; this is the
    // kubelet's own admission, for a pod bound to the node whatever the scheduler thought.
    const second = JSON.parse(podYaml('hp2', script, ports)) as {
      spec: { nodeName?: string; nodeSelector?: unknown };
    };
    second.spec.nodeName = stack.nodeName;
    delete second.spec.nodeSelector;
    await apply(JSON.stringify(second));
    const refused = await until(
      'hp2 to fail',
      async () => {
        const p = await pod('hp2');
        return p.status?.phase === 'Failed' && p;
      },
      30_000,
    );
    expect(refused.status?.message).toBe(
      `spec.containers["app"].ports[0].hostPort: 0.0.0.0:8088/tcp is already taken on this node by pod ${NS}/hp`,
    );

    await stack.kubectl('delete', 'pod', '-n', NS, 'hp', 'hp2', '--wait=true', '--timeout=60s');
    await until(
      'the DNAT rule to go',
      async () => !stack.netns.run('iptables-save', ['-t', 'nat']).includes('8088'),
      30_000,
    );
  }, 180_000);

  it('a hostPort out of range is refused by the apiserver in one line, and no pod is made', async () => {
    const bad = podYaml('hpbad', 'true', { ports: [{ containerPort: 80, hostPort: 65536 }] });
    const err = await apply(bad).then(
      () => undefined,
      (e: { stderr?: string }) => e.stderr ?? String(e),
    );
    expect(err).toContain(
      'spec.containers[0].ports[0].hostPort: Invalid value: 65536: must be between 1 and 65535, inclusive',
    );
    expect(await stack.kubectl('get', 'pods', '-n', NS, '-o', 'name')).not.toContain('hpbad');
  }, 60_000);
});

describe('hostPort on vic-kubelet node (a pod VM)', () => {
  it("answers on the node's IP from the pod VM; it goes with the pod", async () => {
    const script =
      'mkdir -p /www && echo vmhp > /www/index.html && exec busybox httpd -f -p 80 -h /www';
    const json = JSON.parse(
      podYaml('vmhp', script, { ports: [{ containerPort: 80, hostPort: 8089 }] }),
    ) as { metadata: Record<string, unknown> };
    json.metadata.annotations = { 'vic-kubelet.io/runtime': 'vm' };
    await apply(JSON.stringify(json));
    const running = await until(
      'vmhp to run (a pod VM, TCG here)',
      async () => {
        const p = await pod('vmhp');
        return p.status?.phase === 'Running' && p;
      },
      300_000,
    );
    expect(running.status?.podIP).toMatch(/^10\.126\.0\.\d+$/);
    let answer = '';
    for (let i = 0; i < 150 && answer === ''; i++) {
      try {
        answer = stack.netns.run('busybox', ['wget', '-q', '-O', '-', `http://${NODE_IP}:8089/`]);
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(answer).toBe('vmhp\n');
    expect(stack.netns.run('ip', ['-o', 'link', 'show', 'type', 'tun'])).toContain('vt');

    await stack.kubectl('delete', 'pod', '-n', NS, 'vmhp', '--wait=true', '--timeout=120s');
    await until(
      'the DNAT rule and the tap to go',
      async () =>
        !stack.netns.run('iptables-save', ['-t', 'nat']).includes('8089') &&
        stack.netns.run('ip', ['-o', 'link', 'show', 'type', 'tun']).trim() === '',
      60_000,
    );
  }, 420_000);
});
