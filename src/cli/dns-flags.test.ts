import { describe, expect, it } from 'vitest';
import { parseDnsFlags } from './dns-flags.js';

const base = { clusterDomain: 'cluster.local', resolvConf: '/etc/resolv.conf' };

describe('--cluster-dns, --cluster-domain, --resolv-conf', () => {
  it('takes IPs, a domain and a file; none of them is needed', () => {
    expect(parseDnsFlags({ ...base, clusterDns: '10.96.0.10, fd00::a' })).toEqual({
      clusterDns: ['10.96.0.10', 'fd00::a'],
      clusterDomain: 'cluster.local',
      resolvConf: '/etc/resolv.conf',
    });
    expect(parseDnsFlags({ ...base, resolvConf: '' }).resolvConf).toBe('');
    expect(parseDnsFlags({ ...base }).clusterDns).toEqual([]);
  });

  it.each([
    [
      { ...base, clusterDns: 'kube-dns' },
      '--cluster-dns "kube-dns": want IP addresses, comma-separated',
    ],
    [
      { ...base, clusterDomain: 'Cluster Local' },
      '--cluster-domain "Cluster Local": want a DNS domain',
    ],
    [
      { ...base, resolvConf: '/no/such/resolv.conf' },
      "--resolv-conf /no/such/resolv.conf: no such file (give '' for none)",
    ],
  ])('refuses %j with one line', (flags, message) => {
    expect(() => parseDnsFlags(flags)).toThrow(message);
    try {
      parseDnsFlags(flags);
    } catch (e) {
      expect((e as { kind?: string }).kind).toBe('InvalidInput');
    }
  });
});
