// The kubelet's DNS flags: --cluster-dns (comma-separated IPs of the cluster DNS Service),
// --cluster-domain, --resolv-conf (the node's resolv.conf for Default pods; '' for none).
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { NodeDns } from '../providers/vic/operations/pod-dns.js';
import { UsageError } from './errors.js';

const DOMAIN = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function parseDnsFlags(o: {
  clusterDns?: string;
  clusterDomain: string;
  resolvConf: string;
}): NodeDns {
  const clusterDns = (o.clusterDns ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const ip of clusterDns)
    if (isIP(ip) === 0)
      throw new UsageError(
        `--cluster-dns ${JSON.stringify(ip)}: want IP addresses, comma-separated`,
      );
  if (o.clusterDomain !== '' && !DOMAIN.test(o.clusterDomain))
    throw new UsageError(
      `--cluster-domain ${JSON.stringify(o.clusterDomain)}: want a DNS domain such as cluster.local`,
    );
  if (o.resolvConf !== '' && !existsSync(o.resolvConf))
    throw new UsageError(`--resolv-conf ${o.resolvConf}: no such file (give '' for none)`);
  return {
    clusterDns,
    clusterDomain: o.clusterDomain,
    resolvConf: o.resolvConf === '' ? '' : resolve(o.resolvConf),
  };
}
