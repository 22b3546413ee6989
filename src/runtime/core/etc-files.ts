// A pod's /etc/hosts and resolv.conf, as both backends give them to every container of the pod:
// runc binds the sandbox's copies in, the pod VM's agent binds them from the share. Written by
// the VCH from the sandbox's spec; a container may write to its copy, and nothing reads it back.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parseResolvConf, renderResolvConf, type DnsConfig } from '../../api/resolv-conf.js';
import { invalidInput } from '../errors.js';
import type { SandboxNames } from '../runtime.js';

/** The resolv.conf of the VCH's host: what a pod gets for the parts its spec leaves out. */
export const HOST_RESOLV_CONF = '/etc/resolv.conf';

/**
 * /etc/hosts: localhost, the pod's own name on its IP (127.0.1.1 when its only network is
 * loopback, as Docker does) — `hostname.domain hostname` when it has a domain, as the kubelet
 * writes it — then the aliases, under the kubelet's comment.
 */
export function hostsFile(hostname: string, podIp?: string, names: SandboxNames = {}): string {
  const own = names.domain ? ownNames(hostname, names.domain) : hostname;
  const lines = [
    ...(names.hostsHeader ? [names.hostsHeader] : []),
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `${podIp ?? '127.0.1.1'}\t${own}`,
  ];
  if (names.hostAliases?.length) {
    lines.push('', '# Entries added by HostAliases.');
    for (const a of names.hostAliases) lines.push(`${a.ip}\t${a.hostnames.join('\t')}`);
  }
  return lines.join('\n') + '\n';
}

/** `fqdn short`, whether the hostname is the short name or already the FQDN (setHostnameAsFQDN). */
function ownNames(hostname: string, domain: string): string {
  const short = hostname.endsWith(`.${domain}`) ? hostname.slice(0, -domain.length - 1) : hostname;
  return `${short}.${domain}\t${short}`;
}

/** The pod's resolv.conf: its spec's parts, the host's for the parts it leaves out. */
export async function resolvConfFile(
  dns: Partial<DnsConfig> = {},
  hostFile = HOST_RESOLV_CONF,
): Promise<string> {
  const complete = dns.nameservers && dns.searches && dns.options;
  const host = complete
    ? { nameservers: [], searches: [], options: [] }
    : parseResolvConf(await readFile(hostFile, 'utf8').catch(() => ''));
  return renderResolvConf({
    nameservers: dns.nameservers ?? host.nameservers,
    searches: dns.searches ?? host.searches,
    options: dns.options ?? host.options,
  });
}

/** A name in /etc/hosts or resolv.conf: DNS characters only, so it stays one field of one line. */
const NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/;
/** An option of resolv.conf: `name` or `name:value`. */
const OPTION = /^[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_.-]{1,64})?$/;

/**
 * Refuses what would not be one well-formed line of the files (a newline in a name would add
 * lines of the caller's choosing): addresses must be IPs, names and options DNS characters.
 */
export function checkNames(n: SandboxNames): SandboxNames {
  const bad = (what: string, v: unknown) =>
    invalidInput(`invalid ${what} ${JSON.stringify(v)} for the pod's resolv.conf or /etc/hosts`);
  for (const ip of n.dns?.nameservers ?? []) if (isIP(ip) === 0) throw bad('nameserver', ip);
  // "." is the root: the kubelet's search line with --resolv-conf ''.
  for (const s of n.dns?.searches ?? [])
    if (s !== '.' && !NAME.test(s)) throw bad('search domain', s);
  for (const o of n.dns?.options ?? []) if (!OPTION.test(o)) throw bad('DNS option', o);
  if (n.domain !== undefined && !NAME.test(n.domain)) throw bad('domain', n.domain);
  for (const a of n.hostAliases ?? []) {
    if (isIP(a.ip) === 0) throw bad('host alias address', a.ip);
    if (a.hostnames.length === 0) throw bad('host alias without names for', a.ip);
    for (const h of a.hostnames) if (!NAME.test(h)) throw bad('host alias name', h);
  }
  if (n.hostsHeader !== undefined && !/^#[^\n\r]{0,200}$/.test(n.hostsHeader))
    throw bad('hosts header (one comment line)', n.hostsHeader);
  return n;
}
