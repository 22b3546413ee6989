import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KUBELET_HOSTS_HEADER, podNames, type NodeDns } from './pod-dns.js';

const dir = mkdtempSync(join(tmpdir(), 'pod-dns-'));
const resolvConf = join(dir, 'resolv.conf');
writeFileSync(resolvConf, 'nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n');

const node = (over: Partial<NodeDns> = {}): NodeDns => ({
  clusterDns: ['10.96.0.10'],
  clusterDomain: 'cluster.local',
  resolvConf,
  ...over,
});

function pod(spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod {
  return {
    metadata: { name: 'web-0', namespace: 'shop', uid: 'u1' },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
  };
}

describe('podNames', () => {
  it('ClusterFirst: the cluster DNS, its search path before the node’s, ndots:5', async () => {
    const { config, events } = await podNames(pod(), node());
    expect(config).toEqual({
      hostname: 'web-0',
      dns: {
        nameservers: ['10.96.0.10'],
        searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'],
        options: ['ndots:5'],
      },
      hostsHeader: KUBELET_HOSTS_HEADER,
    });
    expect(events).toEqual([]);
  });

  it('ClusterFirst without --cluster-dns: the node’s resolv.conf and a MissingClusterDNS warning', async () => {
    const { config, events } = await podNames(pod(), node({ clusterDns: [] }));
    expect(config.dns).toEqual({
      nameservers: ['192.0.2.53'],
      searches: ['corp.example'],
      options: ['edns0'],
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'Warning', reason: 'MissingClusterDNS' });
    expect(events[0].message).toContain('Falling back to "Default" policy');
  });

  it('Default: the node’s resolv.conf; with --resolv-conf "" the local resolver', async () => {
    expect((await podNames(pod({ dnsPolicy: 'Default' }), node())).config.dns?.nameservers).toEqual(
      ['192.0.2.53'],
    );
    expect(
      (await podNames(pod({ dnsPolicy: 'Default' }), node({ resolvConf: '' }))).config.dns,
    ).toEqual({
      nameservers: ['127.0.0.1'],
      searches: ['.'],
      options: [],
    });
  });

  it('None with dnsConfig: only what the pod says; dnsConfig appends and merges otherwise', async () => {
    const dnsConfig: k8s.V1PodDNSConfig = {
      nameservers: ['1.1.1.1', '10.96.0.10'],
      searches: ['extra.example'],
      options: [{ name: 'ndots', value: '2' }, { name: 'single-request-reopen' }],
    };
    expect((await podNames(pod({ dnsPolicy: 'None', dnsConfig }), node())).config.dns).toEqual({
      nameservers: ['1.1.1.1', '10.96.0.10'],
      searches: ['extra.example'],
      options: ['ndots:2', 'single-request-reopen'],
    });
    expect((await podNames(pod({ dnsConfig }), node())).config.dns).toEqual({
      nameservers: ['10.96.0.10', '1.1.1.1'],
      searches: [
        'shop.svc.cluster.local',
        'svc.cluster.local',
        'cluster.local',
        'corp.example',
        'extra.example',
      ],
      options: ['ndots:2', 'single-request-reopen'],
    });
  });

  it('cuts to three nameservers with a DNSConfigForming warning', async () => {
    const { config, events } = await podNames(
      pod({ dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3'] } }),
      node(),
    );
    expect(config.dns?.nameservers).toEqual(['10.96.0.10', '1.1.1.1', '2.2.2.2']);
    expect(events).toEqual([expect.objectContaining({ reason: 'DNSConfigForming' })]);
    expect(events[0].message).toContain('nameservers 3.3.3.3');
  });

  it('hostname, subdomain, setHostnameAsFQDN and hostAliases', async () => {
    const spec = {
      hostname: 'db-1',
      subdomain: 'db',
      hostAliases: [{ ip: '10.1.2.3', hostnames: ['cache', 'cache.local'] }],
    };
    const plain = (await podNames(pod(spec), node())).config;
    expect(plain).toMatchObject({
      hostname: 'db-1',
      domainname: 'db.shop.svc.cluster.local',
      hostAliases: [{ ip: '10.1.2.3', hostnames: ['cache', 'cache.local'] }],
    });
    const fqdn = (await podNames(pod({ ...spec, setHostnameAsFQDN: true }), node())).config;
    expect(fqdn.hostname).toBe('db-1.db.shop.svc.cluster.local');
    // Without a subdomain there is no FQDN to set.
    expect((await podNames(pod({ setHostnameAsFQDN: true }), node())).config.hostname).toBe(
      'web-0',
    );
    expect(() =>
      podNames(pod({ ...spec, subdomain: 'x'.repeat(40), setHostnameAsFQDN: true }), node()),
    ).toThrow(/FQDN .* is too long \(64 characters is the max, \d+ characters requested\)/);
  });
});
