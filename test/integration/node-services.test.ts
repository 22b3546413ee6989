// Services on a vic-kubelet node with the real parts a cluster runs beside the kubelet, all
// inside a network namespace the test creates (netns-stack.ts, cluster-services.ts): kube-proxy
// (iptables mode) turns a ClusterIP Service into DNAT to its pods on the VCH's bridge, CoreDNS
// answers the cluster domain from the apiserver as kube-system/kube-dns at the node's
// --cluster-dns. A Deployment of three busybox httpd servers, each answering with its own
// hostname, is reached from a client pod through the Service's DNS names and its ClusterIP, and
// every replica answers; then the same with one replica in a pod VM.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgent } from '../support/vm.js';
import { type ClusterServices, servicesTool, startClusterServices } from './cluster-services.js';
import { NODE_IP, type NetnsStack, startNetnsStack } from './netns-stack.js';
import { until } from './node-harness.js';

const SUBNET = '10.124.0.0/24';
/** In the test control plane's --service-cluster-ip-range (10.0.0.0/24). */
const DNS_IP = '10.0.0.10';
const DOMAIN = 'cluster.local';
const NS = 'default';

let work: string;
let stack: NetnsStack | undefined;
let services: ClusterServices | undefined;

const placement = () => ({
  nodeSelector: { 'kubernetes.io/hostname': stack!.nodeName },
  tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }],
  terminationGracePeriodSeconds: 1,
});

/** A Deployment of httpd servers labelled app=web, each answering with its own hostname. */
function webDeployment(name: string, replicas: number, annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web', deployment: name } },
      template: {
        metadata: { labels: { app: 'web', deployment: name }, annotations },
        spec: {
          ...placement(),
          containers: [
            {
              name: 'httpd',
              image: stack!.image,
              command: [
                'sh',
                '-c',
                'mkdir -p /www && hostname > /www/index.html && exec busybox httpd -f -p 8080 -h /www',
              ],
              ports: [{ containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

async function apply(obj: unknown): Promise<void> {
  const file = join(work, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(obj));
  await stack!.kubectl('apply', '-f', file);
}

interface PodList {
  items: {
    metadata: { name: string; annotations?: Record<string, string>; deletionTimestamp?: string };
    status?: { podIP?: string; podIPs?: { ip: string }[] };
  }[];
}

/** The web pods once `want` of them are ready behind the Service, and kube-proxy has them. */
async function readyBackends(want: number): Promise<PodList['items']> {
  await until(
    `${want} ready endpoints of web`,
    async () => {
      const slices = JSON.parse(
        await stack!.kubectl(
          'get',
          'endpointslices',
          '-n',
          NS,
          '-l',
          'kubernetes.io/service-name=web',
          '-o',
          'json',
        ),
      ) as { items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] };
      const ready = slices.items
        .flatMap((s) => s.endpoints ?? [])
        .filter((e) => e.conditions?.ready === true);
      return ready.length === want;
    },
    240_000,
  );
  const pods = JSON.parse(
    await stack!.kubectl('get', 'pods', '-n', NS, '-l', 'app=web', '-o', 'json'),
  ) as PodList;
  // (a replica scaled away lingers a moment, terminating)
  return pods.items.filter((p) => p.metadata.deletionTimestamp === undefined);
}

/**
 * The hostnames that answer `url` from inside `pod`, over up to 40 requests a round, rounds
 * repeated until `want` distinct ones answered or the time is up (kube-proxy syncs a moment
 * after the endpoints change). With three endpoints chosen at random, 40 requests miss one with
 * a chance of about 1e-7. (`timeout`, not wget's -T: Debian's static busybox wget crashes
 * resolving a name with -T.)
 */
async function answers(pod: string, url: string, want: number): Promise<string[]> {
  const seen = new Set<string>();
  let last = '';
  await until(
    `${want} backends to answer ${url} in ${pod}`,
    async () => {
      const out = await stack!.kubectl(
        'exec',
        '-n',
        NS,
        pod,
        '--',
        'sh',
        '-c',
        `for i in $(seq 1 40); do timeout 5 wget -q -O - ${url} 2>&1; done; true`,
      );
      last = out;
      for (const line of out.split('\n')) if (line.startsWith('web-')) seen.add(line);
      return seen.size >= want;
    },
    60_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; saw ${[...seen].join(', ')}; last output:\n${last.slice(-800)}`);
  });
  return [...seen].sort();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vic-services-'));
  // Built (or found cached) before the stack comes up, so it does not idle through a build.
  servicesTool('kube-proxy');
  servicesTool('coredns');
  ensureAgent();
  stack = await startNetnsStack({
    work,
    bridgeNetwork: SUBNET,
    extra: ['--cluster-dns', DNS_IP, '--cluster-domain', DOMAIN],
  });
  services = await startClusterServices(stack, {
    work,
    clusterCidr: SUBNET,
    serviceCidr: '10.0.0.0/24',
    dnsIp: DNS_IP,
    dnsAddress: NODE_IP,
    clusterDomain: DOMAIN,
  });
  await until(
    'the default service account',
    async () => (await stack!.kubectl('get', 'sa', '-n', NS, '-o', 'name')).includes('default'),
    30_000,
  );
}, 900_000);

afterAll(async () => {
  try {
    // The pods first, while the node runs: a pod VM outlives its node otherwise.
    await stack
      ?.kubectl('delete', 'deployments,pods', '--all', '-n', NS, '--wait=true', '--timeout=120s')
      .catch(() => undefined);
    if (services) {
      await services.stop();
      // kube-proxy's --cleanup took its chains out of the namespace.
      // (KUBE-FIREWALL, kube-proxy's drop of martian localhost traffic, is not among them;
      // it goes with the namespace)
      expect(stack!.netns.run('iptables-save', [])).not.toMatch(
        /KUBE-(SERVICES|SVC|SEP|NODEPORTS)/,
      );
    }
  } finally {
    await stack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }
  // Nothing of it reached the host's namespace.
  expect(execFileSync('iptables-save', [], { encoding: 'utf8' })).not.toMatch(/KUBE-|CNI-/);
}, 180_000);

describe('Services on vic-kubelet node: kube-proxy and CoreDNS beside it', () => {
  let clusterIP = '';

  it('three runc replicas answer through the Service’s DNS names and its ClusterIP', async () => {
    await apply(webDeployment('web', 3));
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: NS },
      spec: {
        ...placement(),
        containers: [
          { name: 'c', image: stack!.image, command: ['sh', '-c', 'exec busybox sleep 3600'] },
        ],
      },
    });
    const pods = await readyBackends(3);
    const names = pods.map((p) => p.metadata.name).sort();
    const ips = pods.map((p) => p.status?.podIP);
    for (const ip of ips) expect(ip).toMatch(/^10\.124\.0\.\d+$/);
    expect(new Set(ips).size).toBe(3);
    for (const p of pods) expect(p.status?.podIPs).toEqual([{ ip: p.status?.podIP }]);
    await until(
      'the client to run',
      async () =>
        (await stack!.get<{ status?: { phase?: string } }>('pod', 'client', NS)).status?.phase ===
        'Running',
      120_000,
    );

    clusterIP = (await stack!.get<{ spec: { clusterIP: string } }>('service', 'web', NS)).spec
      .clusterIP;
    expect(clusterIP).toMatch(/^10\.0\.0\.\d+$/);
    // The pod's resolv.conf names kube-dns; CoreDNS gives the Service's ClusterIP.
    expect(
      await stack!.kubectl('exec', '-n', NS, 'client', '--', 'sh', '-c', 'cat /etc/resolv.conf'),
    ).toContain(`nameserver ${DNS_IP}`);
    const lookup = await stack!.kubectl(
      'exec',
      '-n',
      NS,
      'client',
      '--',
      'sh',
      '-c',
      `nslookup web.${NS}.svc.${DOMAIN}`,
    );
    expect(lookup).toMatch(new RegExp(`^Address:\\s*${clusterIP.replaceAll('.', '\\.')}$`, 'm'));

    for (const target of [`web.${NS}.svc.${DOMAIN}`, 'web', clusterIP])
      expect(await answers('client', `http://${target}/`, 3)).toEqual(names);
  }, 420_000);

  it('the same with one replica in a pod VM, which reaches the Service too', async () => {
    expect(clusterIP).not.toBe('');
    await stack!.kubectl('scale', 'deployment', 'web', '-n', NS, '--replicas', '2');
    await apply(webDeployment('web-vm', 1, { 'vic-kubelet.io/runtime': 'vm' }));
    const pods = await until(
      'two runc replicas and one VM replica',
      async () => {
        const p = await readyBackends(3);
        return p.length === 3 && p;
      },
      240_000,
    );
    const vm = pods.filter((p) => p.metadata.annotations?.['vic-kubelet.io/runtime'] === 'vm');
    expect(vm).toHaveLength(1);
    const names = pods.map((p) => p.metadata.name).sort();
    const ips = pods.map((p) => p.status?.podIP);
    for (const ip of ips) expect(ip).toMatch(/^10\.124\.0\.\d+$/);
    expect(new Set(ips).size).toBe(3);

    for (const target of [`web.${NS}.svc.${DOMAIN}`, 'web', clusterIP])
      expect(await answers('client', `http://${target}/`, 3)).toEqual(names);
    // From inside the VM: its resolver, the bridge and the Service's DNAT, itself included.
    expect(await answers(vm[0].metadata.name, `http://web/`, 3)).toEqual(names);
  }, 600_000);
});
