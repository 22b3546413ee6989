// resolv.conf as the provider and the VCH both read and write it: the provider turns a pod's
// dnsPolicy and dnsConfig into one (reading the node's own, as the kubelet reads its
// --resolv-conf), the VCH writes it into the pod's sandbox (filling what a Docker client left
// unsaid from its host's). The limits are the kubelet's and glibc's.

/** A resolv.conf's content. An absent part means "the host's" where a caller allows that. */
export interface DnsConfig {
  nameservers: string[];
  searches: string[];
  /** `name` or `name:value`, as in the file's options line. */
  options: string[];
}

/** glibc reads at most three nameservers; the kubelet keeps the first three. */
export const MAX_NAMESERVERS = 3;
/** The kubelet's limits on the search line (MaxDNSSearchPaths, MaxDNSSearchListChars). */
export const MAX_SEARCHES = 32;
export const MAX_SEARCH_CHARS = 2048;

/** Reads a resolv.conf: nameserver, search/domain and options lines; comments and the rest ignored. */
export function parseResolvConf(text: string): DnsConfig {
  const out: DnsConfig = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...fields] = line.split(/\s+/);
    if (key === 'nameserver' && fields[0]) out.nameservers.push(fields[0]);
    // The last search or domain line wins, as in glibc.
    else if (key === 'search' || key === 'domain') out.searches = fields;
    else if (key === 'options') out.options.push(...fields);
  }
  return out;
}

export function renderResolvConf(c: DnsConfig): string {
  const lines = c.nameservers.map((n) => `nameserver ${n}`);
  if (c.searches.length) lines.push(`search ${c.searches.join(' ')}`);
  if (c.options.length) lines.push(`options ${c.options.join(' ')}`);
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** Options merged by name, later ones replacing earlier ones of the same name (the kubelet's). */
export function mergeOptions(base: readonly string[], over: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const o of [...base, ...over]) byName.set(o.split(':')[0], o);
  return [...byName.values()];
}

/** Values in order, each once. */
export function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * What a resolver can use: the first three nameservers, the search list cut to the kubelet's
 * limits. Returns what was cut, so the caller can say so (the kubelet's DNSConfigForming event).
 */
export function withinLimits(c: DnsConfig): { config: DnsConfig; dropped: string[] } {
  const dropped: string[] = [];
  const nameservers = c.nameservers.slice(0, MAX_NAMESERVERS);
  if (c.nameservers.length > MAX_NAMESERVERS)
    dropped.push(`nameservers ${c.nameservers.slice(MAX_NAMESERVERS).join(' ')}`);
  const searches: string[] = [];
  let chars = 0;
  for (const s of c.searches) {
    if (searches.length === MAX_SEARCHES || chars + s.length + searches.length > MAX_SEARCH_CHARS)
      break;
    searches.push(s);
    chars += s.length;
  }
  if (searches.length < c.searches.length)
    dropped.push(`search domains ${c.searches.slice(searches.length).join(' ')}`);
  return { config: { nameservers, searches, options: c.options }, dropped };
}
