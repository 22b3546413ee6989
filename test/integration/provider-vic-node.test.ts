// End to end on the real parts: a Kubernetes control plane, the virtual kubelet with the VIC
// provider, a VCH (runc sandboxes, the tether) reached only over its portlayer and persona
// sockets, and real registries. What a user does with kubectl: apply a pod that tolerates the
// virtual node's taint, read its VIC-format logs, see exit codes and pull errors, delete it —
// and the node's capacity is the VCH's.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { VirtualKubelet } from '../../src/node/virtual-kubelet.js';
import { PortlayerClient } from '../../src/providers/vic/proxy/portlayer-client.js';
import { createVicProvider, type VicProvider } from '../../src/providers/vic/index.js';
import { cleanupTestVch, startTestVch, type TestVch } from '../support/test-vch.js';
import { kubectl } from './cluster.js';
import {
  kubeConfigOf,
  servingCert,
  type ServingCert,
  until,
  createTestNamespace,
} from './node-harness.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

const cluster = inject('cluster');
const kc = kubeConfigOf(cluster);
const core = kc.makeApiClient(k8s.CoreV1Api);
const suffix = Math.random().toString(36).slice(2, 8);
const namespace = `vic-${suffix}`;
const nodeName = `vic-${suffix}`;

let dir: string;
let registry: Registry;
let locked: Registry;
let vch: TestVch;
let tls: ServingCert;
let vk: VirtualKubelet | undefined;
let provider: VicProvider | undefined;
let image: string;
let privateImage: string;
let otherPrivateImage: string;
let locked2: Registry;

async function startNode(): Promise<void> {
  provider = createVicProvider({
    portlayer: `unix://${vch.portlayerSocket}`,
    persona: `unix://${vch.personaSocket}`,
    nodeIP: '127.0.0.1',
    log: silentLogger(),
    kubeConfig: kc,
  });
  vk = new VirtualKubelet({
    kubeConfig: kc,
    provider,
    nodeName,
    log: silentLogger(),
    listen: { host: '127.0.0.1', port: 0, cert: tls.cert, key: tls.key, clientCa: tls.clientCa },
    node: { leaseRenewMs: 1000 },
  });
  await vk.start();
}

async function stopNode(): Promise<void> {
  await vk?.stop();
  await provider?.close();
  vk = undefined;
  provider = undefined;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'provider-vic-node-'));
  registry = await startRegistry();
  locked = await startRegistry({ htpasswd: { bob: 'hunter2' } });
  locked2 = await startRegistry({ htpasswd: { bob: 'hunter2' } });
  const layout = await buildBusyboxLayout(join(dir, 'image'));
  image = `${registry.host}/busybox:1`;
  privateImage = `${locked.host}/secret/busybox:1`;
  await pushImage(layout, 'busybox', image);
  otherPrivateImage = `${locked2.host}/secret/busybox:1`;
  await pushImage(layout, 'busybox', privateImage, 'bob:hunter2');
  await pushImage(layout, 'busybox', otherPrivateImage, 'bob:hunter2');
  vch = await startTestVch(dir, {
    insecureRegistries: [registry.host, locked.host, locked2.host],
    maxPods: 30,
  });
  tls = await servingCert(cluster, nodeName);
  await createTestNamespace(core, namespace);
  await startNode();
}, 180_000);

afterAll(async () => {
  await stopNode();
  await core.deleteNamespace({ name: namespace }).catch(() => {});
  await core.deleteNode({ name: nodeName }).catch(() => {});
  for (const c of (await vch?.vch.listContainers({ all: true })) ?? [])
    await vch.vch.removeContainer(c.id, { force: true }).catch(() => {});
  await vch?.close();
  await registry?.stop();
  await locked?.stop();
  await locked2?.stop();
  if (dir) cleanupTestVch(dir);
}, 60_000);

function podYaml(name: string, containers: object[], extra: object = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': nodeName },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
      ],
      terminationGracePeriodSeconds: 3,
      containers,
      ...extra,
    },
  });
}

/** kubectl apply -f - with the manifest on standard input. */
function apply(manifest: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      join(cluster.bin, 'kubectl'),
      ['--kubeconfig', cluster.kubeconfig, 'apply', '-f', '-'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
    child.stdin.end(manifest);
  });
}

const pod = (name: string) => core.readNamespacedPod({ name, namespace });
const kubectlLogs = (...args: string[]) => kubectl(cluster, 'logs', '-n', namespace, ...args);

describe('VIC provider under kubectl', () => {
  it('the Node is Ready and its capacity is /vch/info', async () => {
    const node = await until('the node to be Ready', async () => {
      const n = await core.readNode({ name: nodeName });
      return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && n;
    });
    const info = await new PortlayerClient(`unix://${vch.portlayerSocket}`).vchInfo();
    expect(node.status!.capacity).toEqual({
      cpu: String(info.numCPUs),
      memory: `${info.memory}Mi`,
      pods: '30',
      'ephemeral-storage': String(info.storageBytes),
    });
  });

  it('runs a two-container pod: Running with both ready; kubectl logs -c, --since, --tail, --timestamps, -f', async () => {
    await apply(
      podYaml('web', [
        {
          name: 'app',
          image,
          command: ['sh', '-c'],
          args: [
            'echo "app starts in $(pwd) as $ROLE"; i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.3; done',
          ],
          env: [{ name: 'ROLE', value: 'frontend' }],
          workingDir: '/tmp',
        },
        { name: 'side', image, command: ['sh', '-c', 'echo "side car" >&2; sleep 3600'] },
      ]),
    );
    const p = await until(
      'web Running and ready',
      async () => {
        const p = await pod('web');
        return (
          p.status?.phase === 'Running' &&
          p.status.containerStatuses?.length === 2 &&
          p.status.containerStatuses.every((c) => c.ready) &&
          p
        );
      },
      60_000,
    );
    expect(p.status!.containerStatuses!.map((c) => c.containerID)).toEqual([
      expect.stringMatching(/^vic:\/\//),
      expect.stringMatching(/^vic:\/\//),
    ]);
    await until('a few ticks', async () =>
      (await kubectlLogs('web', '-c', 'app')).includes('tick 3'),
    );
    const all = await kubectlLogs('web', '-c', 'app');
    expect(all.startsWith('app starts in /tmp as frontend\ntick 1\ntick 2\n')).toBe(true);
    expect(await kubectlLogs('web', '-c', 'side')).toBe('side car\n');
    expect(await kubectlLogs('web', '-c', 'app', '--tail=1')).toMatch(/^tick \d+\n$/);
    expect(await kubectlLogs('web', '-c', 'app', '--since=1h')).toMatch(/^app starts in/);
    const stamped = await kubectlLogs('web', '-c', 'app', '--timestamps', '--tail=2');
    expect(stamped).toMatch(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick \d+\n){2}$/);
    // --since-time at the last stamped line: kubectl sends it to the second (metav1.Time), so
    // the answer starts with the first line of that second and holds the stamped line.
    const lastTs = stamped.trim().split('\n')[1].split(' ')[0];
    const since = await kubectlLogs('web', '-c', 'app', `--since-time=${lastTs}`, '--timestamps');
    const second = lastTs.slice(0, 19);
    const sinceLines = since.trim().split('\n');
    expect(sinceLines.every((l) => l.slice(0, 19) >= second)).toBe(true);
    expect(sinceLines.map((l) => l.split(' ')[0])).toContain(lastTs);
    const everything = await kubectlLogs('web', '-c', 'app', '--timestamps');
    expect(sinceLines[0]).toBe(everything.split('\n').find((l) => l.slice(0, 19) >= second));

    const child = spawn(
      join(cluster.bin, 'kubectl'),
      [
        '--kubeconfig',
        cluster.kubeconfig,
        'logs',
        '-f',
        '-n',
        namespace,
        'web',
        '-c',
        'app',
        '--tail=1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    try {
      await until('three followed lines', async () => out.split('\n').length > 3, 15_000);
      expect(out).toMatch(/^tick (\d+)\ntick \d+\ntick \d+\n/);
    } finally {
      child.kill();
    }
  });

  it('a container that exits 3 under restartPolicy Never: terminated.exitCode 3, pod Failed', async () => {
    await apply(
      podYaml('once', [{ name: 'job', image, command: ['sh', '-c', 'echo done; exit 3'] }], {
        restartPolicy: 'Never',
      }),
    );
    const p = await until(
      'once Failed',
      async () => {
        const p = await pod('once');
        return p.status?.phase === 'Failed' && p;
      },
      60_000,
    );
    expect(p.status!.containerStatuses![0].state!.terminated).toMatchObject({
      exitCode: 3,
      reason: 'Error',
    });
    expect(await kubectlLogs('once')).toBe('done\n');
  });

  it('a pod with a probe that needs its IP, on a VCH without a pod network, is Failed at once, saying which and why', async () => {
    await apply(
      podYaml('probed', [
        {
          name: 'web',
          image,
          command: ['sleep', '60'],
          readinessProbe: { httpGet: { port: 8080, path: '/healthz' } },
        },
      ]),
    );
    const p = await until(
      'probed Failed',
      async () => {
        const p = await pod('probed');
        return p.status?.phase === 'Failed' && p;
      },
      30_000,
    );
    expect(p.status).toMatchObject({ reason: 'ProviderCreateFailed' });
    expect(p.status!.message).toMatch(
      /^spec\.containers\["web"\]\.readinessProbe\.httpGet: connects to the pod's IP, and this node's VCH gives pods none \(it runs with --bridge-network none\)/,
    );
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=probed',
    });
    expect(events.items.map((e) => e.reason)).toContain('ProviderCreateFailed');
    // Nothing of it reached the VCH.
    const all = await vch.vch.listContainers({ all: true });
    expect(all.some((c) => JSON.stringify(c).includes('probed'))).toBe(false);
  });

  it('applies a securityContext: read-only root, capabilities dropped, no_new_privs, runAsUser; runAsNonRoot refuses a root image', async () => {
    const script =
      "id -u; id -G; touch /x; echo touch=$?; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status";
    await apply(
      podYaml(
        'locked',
        [
          {
            name: 'app',
            image,
            command: ['sh', '-c', script],
            securityContext: {
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
              allowPrivilegeEscalation: false,
              runAsUser: 1000,
            },
          },
          {
            name: 'root',
            image,
            command: ['sh', '-c', script],
            securityContext: { capabilities: { add: ['NET_ADMIN'], drop: ['KILL'] } },
          },
        ],
        { restartPolicy: 'Never', securityContext: { supplementalGroups: [2000] } },
      ),
    );
    await until(
      'locked Succeeded',
      async () => (await pod('locked')).status?.phase === 'Succeeded',
      60_000,
    );
    const app = await kubectlLogs('locked', '-c', 'app');
    expect(app).toMatch(/^1000\n0 2000\n/);
    expect(app).toMatch(/Read-only file system/);
    expect(app).toContain('touch=1');
    expect(app).toMatch(/CapEff:\s+0000000000000000\nCapBnd:\s+0000000000000000\nNoNewPrivs:\s+1/);
    const root = await kubectlLogs('locked', '-c', 'root');
    expect(root).toMatch(
      /^0\n(\d+ )*2000\ntouch=0\nCapEff:\s+00000000a80435db\nCapBnd:\s+00000000a80435db\nNoNewPrivs:\s+0/,
    );

    await apply(
      podYaml(
        'nonroot',
        [{ name: 'app', image, command: ['true'], securityContext: { runAsNonRoot: true } }],
        { restartPolicy: 'Never' },
      ),
    );
    const p = await until(
      'nonroot refused',
      async () => {
        const p = await pod('nonroot');
        return p.status?.containerStatuses?.[0]?.state?.waiting?.message && p;
      },
      30_000,
    );
    // As a kubelet: the container waits with CreateContainerConfigError and the kubelet's
    // message, and never runs.
    const waiting = p.status!.containerStatuses![0].state!.waiting!;
    expect(waiting.reason).toBe('CreateContainerConfigError');
    expect(waiting.message).toContain(
      `container has runAsNonRoot and image will run as root (pod: "nonroot_${namespace}(${p.metadata!.uid})", container: app)`,
    );
    const all = await vch.vch.listContainers({ all: true });
    expect(all.some((c) => c.name.includes('nonroot'))).toBe(false);
  });

  it('a crashing container under restartPolicy Always: restarts counted, CrashLoopBackOff; --previous shows the run before', async () => {
    await apply(
      podYaml('crash', [{ name: 'c', image, command: ['sh', '-c', 'echo boom; exit 1'] }]),
    );
    const c = await until(
      'CrashLoopBackOff',
      async () => {
        const s = (await pod('crash')).status?.containerStatuses?.[0];
        return s?.state?.waiting?.reason === 'CrashLoopBackOff' && s;
      },
      60_000,
    );
    expect(c.restartCount).toBeGreaterThanOrEqual(1);
    expect(c.lastState!.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect((await pod('crash')).status!.phase).toBe('Running');
    // As on a kubelet: the current run's log, and the run before it with --previous.
    expect(await kubectlLogs('crash')).toBe('boom\n');
    expect(await kubectlLogs('crash', '--previous')).toBe('boom\n');
  }, 90_000);

  it('an image that does not exist: ErrImagePull, then ImagePullBackOff', async () => {
    await apply(podYaml('ghost', [{ name: 'c', image: `${registry.host}/ghost:1` }]));
    const reasons = new Set<string>();
    await until(
      'ImagePullBackOff',
      async () => {
        const p = await pod('ghost');
        const reason = p.status?.containerStatuses?.[0].state?.waiting?.reason;
        if (reason) reasons.add(reason);
        return reasons.has('ErrImagePull') && reasons.has('ImagePullBackOff');
      },
      60_000,
    );
    expect((await pod('ghost')).status!.phase).toBe('Pending');
  }, 90_000);

  it('pulls from a registry with basic auth with an imagePullSecret (and not without it)', async () => {
    // Without on a registry of its own: the VCH's registry client keeps the credentials of its
    // first pull from a registry for later pulls from it (see provider-vic.test.ts).
    await apply(
      podYaml('nosecret', [
        { name: 'c', image: otherPrivateImage, command: ['sh', '-c', 'sleep 3600'] },
      ]),
    );
    const waiting = await until(
      'ErrImagePull',
      async () => {
        const w = (await pod('nosecret')).status?.containerStatuses?.[0].state?.waiting;
        return w?.reason === 'ErrImagePull' && w;
      },
      60_000,
    );
    expect(waiting.message).toMatch(/unauthorized/);
    await kubectl(
      cluster,
      'create',
      'secret',
      'docker-registry',
      'regcred',
      '-n',
      namespace,
      `--docker-server=${locked.host}`,
      '--docker-username=bob',
      '--docker-password=hunter2',
    );
    await apply(
      podYaml(
        'withsecret',
        [{ name: 'c', image: privateImage, command: ['sh', '-c', 'sleep 3600'] }],
        {
          imagePullSecrets: [{ name: 'regcred' }],
        },
      ),
    );
    await until(
      'withsecret Running',
      async () => (await pod('withsecret')).status?.phase === 'Running',
      60_000,
    );
  }, 150_000);

  it('a restarted vic-kubelet leaves running pods running', async () => {
    const before = (await pod('web')).status!.containerStatuses!;
    await stopNode();
    await startNode();
    // The provider rebuilt its cache from the VCH: nothing was created again.
    await new Promise((r) => setTimeout(r, 3000));
    const after = (await pod('web')).status!.containerStatuses!;
    expect(after.map((c) => [c.containerID, c.restartCount, c.ready])).toEqual(
      before.map((c) => [c.containerID, 0, true]),
    );
    expect(await kubectlLogs('web', '-c', 'side')).toBe('side car\n');
  });

  it('kubectl delete pod stops and removes its containers on the VCH', async () => {
    const p = await pod('web');
    const ids = p.status!.containerStatuses!.map((c) => c.containerID!.replace('vic://', ''));
    const portlayer = new PortlayerClient(`unix://${vch.portlayerSocket}`);
    for (const id of ids) await portlayer.info(id); // they exist
    await kubectl(cluster, 'delete', 'pod', '-n', namespace, 'web', '--wait=false');
    await until(
      'web gone from the API',
      async () => {
        try {
          await pod('web');
          return false;
        } catch (e) {
          return e instanceof k8s.ApiException && e.code === 404;
        }
      },
      60_000,
    );
    await until('web gone from the VCH', async () => {
      for (const id of ids) {
        const gone = await portlayer.info(id).then(
          () => false,
          (e) => e.kind === 'NotFound',
        );
        if (!gone) return false;
      }
      return true;
    });
  });
});
