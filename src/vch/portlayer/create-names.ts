// The pod's resolv.conf and /etc/hosts from a ContainerCreateConfig: VIC's `domainname` and our
// extensions `dns`, `hostAliases` and `hostsHeader`, each shape-checked here (400 with the
// field's name) and then checked as names by the runtime's one rule (core/etc-files.ts).
import type { ContainerCreateConfig, HostAlias, PodDnsConfig } from '../../api/portlayer/index.js';
import { checkNames } from '../../runtime/core/etc-files.js';
import type { SandboxNames } from '../../runtime/runtime.js';
import { invalidInput } from '../errors.js';
import { optString, optStrings } from './http.js';

type Body = Partial<Record<keyof ContainerCreateConfig, unknown>>;
type NamesConfig = Pick<
  ContainerCreateConfig,
  'domainname' | 'dns' | 'hostAliases' | 'hostsHeader'
>;

/** The create request's name fields, checked: a bad one is that request's 400. */
export function createNamesConfig(body: Body): NamesConfig {
  const domainname = optString(body, 'domainname') || undefined;
  const hostsHeader = optString(body, 'hostsHeader');
  const dns = body.dns !== undefined && body.dns !== null ? dnsOf(body.dns) : undefined;
  const hostAliases =
    body.hostAliases !== undefined && body.hostAliases !== null
      ? aliasesOf(body.hostAliases)
      : undefined;
  const out: NamesConfig = {
    ...(domainname && { domainname }),
    ...(dns && { dns }),
    ...(hostAliases && { hostAliases }),
    ...(hostsHeader !== undefined && { hostsHeader }),
  };
  namesOf(out);
  return out;
}

/** The pod's names from a create config (checked by the runtime's rule). */
export function namesOf(c: NamesConfig): SandboxNames | undefined {
  const names: SandboxNames = {
    ...(c.domainname && { domain: c.domainname }),
    ...(c.dns && { dns: c.dns }),
    ...(c.hostAliases && { hostAliases: c.hostAliases }),
    ...(c.hostsHeader !== undefined && { hostsHeader: c.hostsHeader }),
  };
  return Object.keys(names).length > 0 ? checkNames(names) : undefined;
}

function dnsOf(v: unknown): PodDnsConfig {
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidInput('dns must be an object');
  const o = v as Partial<Record<keyof PodDnsConfig, unknown>>;
  const out: PodDnsConfig = {};
  for (const f of ['nameservers', 'searches', 'options'] as const) {
    const list = optStrings(o, f);
    if (list) out[f] = list;
  }
  return out;
}

function aliasesOf(v: unknown): HostAlias[] {
  if (!Array.isArray(v)) throw invalidInput('hostAliases must be a list');
  return v.map((a: unknown) => {
    if (typeof a !== 'object' || a === null) throw invalidInput('a host alias must be an object');
    const o = a as Partial<Record<keyof HostAlias, unknown>>;
    const ip = optString(o, 'ip');
    if (!ip) throw invalidInput('a host alias needs an ip');
    return { ip, hostnames: optStrings(o, 'hostnames') ?? [] };
  });
}
