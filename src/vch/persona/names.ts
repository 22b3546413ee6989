// Docker's name settings of a container's own sandbox: --dns, --dns-search, --dns-option
// (HostConfig.Dns, DnsSearch, DnsOptions), --add-host (HostConfig.ExtraHosts, "name:ip") and
// --domainname (Config.Domainname); and the same fields back for `docker inspect`.
import { checkNames } from '../../runtime/core/etc-files.js';
import type { HostAlias, SandboxNames } from '../../runtime/runtime.js';
import { invalidInput } from '../errors.js';

function list(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw invalidInput(`invalid ${field}: want a list of strings`);
  return v as string[];
}

export function namesOf(
  body: Record<string, unknown>,
  host: Record<string, unknown>,
): SandboxNames | undefined {
  const nameservers = list(host.Dns, 'HostConfig.Dns');
  const searches = list(host.DnsSearch, 'HostConfig.DnsSearch');
  const options = list(host.DnsOptions, 'HostConfig.DnsOptions');
  const extra = list(host.ExtraHosts, 'HostConfig.ExtraHosts');
  const domain = body.Domainname;
  if (domain !== undefined && domain !== null && typeof domain !== 'string')
    throw invalidInput('invalid Domainname: want a string');
  const dns = {
    ...(nameservers?.length && { nameservers }),
    ...(searches?.length && { searches }),
    ...(options?.length && { options }),
  };
  const names: SandboxNames = {
    ...(Object.keys(dns).length > 0 && { dns }),
    ...(domain && { domain }),
    ...(extra?.length && { hostAliases: extra.map(extraHost) }),
  };
  return Object.keys(names).length > 0 ? checkNames(names) : undefined;
}

/** "name:ip" (the ip may be IPv6, colons and all; Docker's newer "name=ip" too). */
function extraHost(entry: string): HostAlias {
  const sep = entry.includes('=') ? entry.indexOf('=') : entry.indexOf(':');
  if (sep <= 0) throw invalidInput(`invalid --add-host ${JSON.stringify(entry)}: want name:ip`);
  const ip = entry.slice(sep + 1).replace(/^\[(.*)\]$/, '$1');
  if (ip === 'host-gateway')
    throw invalidInput(
      '--add-host NAME:host-gateway is not supported by this VCH; give an address',
    );
  return { ip, hostnames: [entry.slice(0, sep)] };
}

/** The HostConfig fields `docker inspect` shows for them. */
export function dockerNames(n: SandboxNames | undefined) {
  return {
    Dns: n?.dns?.nameservers ?? [],
    DnsSearch: n?.dns?.searches ?? [],
    DnsOptions: n?.dns?.options ?? [],
    ExtraHosts: n?.hostAliases?.flatMap((a) => a.hostnames.map((h) => `${h}:${a.ip}`)) ?? null,
  };
}
