// A pod's names as the kubelet makes them, on the real control plane through `vic-kubelet node
// --cluster-dns 10.96.0.10` (embedded VCH): resolv.conf from dnsPolicy and dnsConfig, /etc/hosts
// with the kubelet's header, the pod's FQDN (subdomain) and hostAliases, the hostname as the
// FQDN (setHostnameAsFQDN) — in a runc pod and in a pod VM — and the same files through the
// docker CLI (--dns, --dns-search, --dns-option, --add-host, --domainname).
import { request } from 'node:http';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl } from './cluster.js';
import { docker } from './docker-cli.js';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({
  prefix: 'dns',
  extra: ['--runtime', 'runc', '--cluster-dns', '10.96.0.10', '--cluster-domain', 'cluster.local'],
  podsGoneTimeout: 60_000,
});
const { cluster, core, namespace } = vic;

const SCRIPT = 'cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; hostname';

async function namesOf(name: string, spec: Partial<k8s.V1PodSpec>, runtime?: 'vm') {
  const body = podOn(vic.node.name, namespace, name, {
    ...spec,
    containers: [{ name: 'app', image: vic.image, command: ['sh', '-c', SCRIPT] }],
  });
  if (runtime) body.metadata!.annotations = { 'vic-kubelet.io/runtime': runtime };
  await core.createNamespacedPod({ namespace, body });
  const status = async () => (await core.readNamespacedPod({ name, namespace })).status;
  await until(
    `${name} to succeed`,
    async () => (await status())?.phase === 'Succeeded',
    180_000,
  ).catch(async (e: Error) => {
    throw new Error(
      `${e.message}: ${JSON.stringify(await status())}\n${vic.node.output().slice(-1500)}`,
    );
  });
  const [resolv, hosts, hostname] = (await kubectl(cluster, 'logs', '-n', namespace, name)).split(
    '---\n',
  );
  return { resolv, hosts, hostname: hostname.trim() };
}

describe('DNS and /etc/hosts on a vic-kubelet node', () => {
  it('ClusterFirst with dnsConfig, subdomain, FQDN hostname and hostAliases (runc)', async () => {
    const got = await namesOf('db-0', {
      hostname: 'db-0',
      subdomain: 'db',
      setHostnameAsFQDN: true,
      dnsConfig: {
        searches: ['extra.example'],
        options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
      },
      hostAliases: [{ ip: '10.1.2.3', hostnames: ['cache', 'cache.local'] }],
    });
    const searches = `${namespace}.svc.cluster.local svc.cluster.local cluster.local`;
    expect(got.resolv).toMatch(
      new RegExp(
        `^nameserver 10\\.96\\.0\\.10\\nsearch ${searches.replace(/\./g, '\\.')}( \\S+)* extra\\.example\\noptions ndots:2 edns0\\n$`,
      ),
    );
    expect(got.hosts).toMatch(/^# Kubernetes-managed hosts file\.\n127\.0\.0\.1\tlocalhost\n/);
    expect(got.hosts).toContain(`\tdb-0.db.${namespace}.svc.cluster.local\tdb-0\n`);
    expect(got.hosts).toMatch(
      /\n# Entries added by HostAliases\.\n10\.1\.2\.3\tcache\tcache\.local\n$/,
    );
    expect(got.hostname).toBe(`db-0.db.${namespace}.svc.cluster.local`);
  }, 240_000);

  it('dnsPolicy None and hostAliases in a pod VM', async () => {
    const got = await namesOf(
      'vm-none',
      {
        dnsPolicy: 'None',
        dnsConfig: { nameservers: ['192.0.2.1'], searches: ['vm.example'] },
        hostAliases: [{ ip: '10.4.5.6', hostnames: ['svc-a'] }],
      },
      'vm',
    );
    expect(got.resolv).toBe('nameserver 192.0.2.1\nsearch vm.example\n');
    expect(got.hosts).toMatch(/^# Kubernetes-managed hosts file\.\n/);
    expect(got.hosts).toContain('127.0.1.1\tvm-none\n');
    expect(got.hosts).toMatch(/\n10\.4\.5\.6\tsvc-a\n$/);
    expect(got.hostname).toBe('vm-none');
  }, 300_000);
});

describe('DNS and /etc/hosts through the docker CLI', () => {
  it('writes --dns, --dns-search, --dns-option, --add-host and --domainname, and inspect shows them', async () => {
    const socket = join(vic.work, 'vch', 'docker.sock');
    const run = await docker(socket, [
      'run',
      '--name',
      'dns-cli',
      '--hostname',
      'web',
      '--domainname',
      'corp.example',
      '--dns',
      '192.0.2.9',
      '--dns-search',
      'a.example',
      '--dns-option',
      'ndots:3',
      '--add-host',
      'db:10.7.7.7',
      '--add-host',
      'v6:fd00::7',
      vic.image,
      'sh',
      '-c',
      'cat /etc/resolv.conf /etc/hosts',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^nameserver 192\.0\.2\.9\nsearch a\.example\noptions ndots:3\n127\.0\.0\.1\tlocalhost\n/,
    );
    expect(run.stdout).toContain('127.0.1.1\tweb.corp.example\tweb\n');
    expect(run.stdout).toMatch(/\n10\.7\.7\.7\tdb\nfd00::7\tv6\n$/);
    const inspect = await docker(socket, [
      'inspect',
      '-f',
      '{{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} {{json .HostConfig.DnsOptions}} {{json .HostConfig.ExtraHosts}} {{.Config.Domainname}}',
      'dns-cli',
    ]);
    expect(inspect.stdout.trim()).toBe(
      '["192.0.2.9"] ["a.example"] ["ndots:3"] ["db:10.7.7.7","v6:fd00::7"] corp.example',
    );
    expect((await docker(socket, ['rm', 'dns-cli'])).code).toBe(0);
    // The CLI checks --add-host itself; the API answers a bad entry with one line, 400.
    const bad = await apiPost(socket, '/v1.41/containers/create', {
      Image: vic.image,
      HostConfig: { ExtraHosts: ['evil:10.0.0.1\n6.6.6.6 bank.example'] },
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).message).toBe(
      'invalid host alias address "10.0.0.1\\n6.6.6.6 bank.example" for the pod\'s resolv.conf or /etc/hosts',
    );
  }, 120_000);
});

function apiPost(socketPath: string, path: string, body: unknown) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { socketPath, path, method: 'POST', headers: { 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
