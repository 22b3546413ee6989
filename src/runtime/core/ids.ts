// The names a backend accepts: ids and hostnames name directories and go into configs, so
// nothing else gets in.

/** Ids are the VCH's 64 hex digits. */
export function validId(id: string): boolean {
  return /^[0-9a-f]{64}$/.test(id);
}

/** A hostname as the sandbox's UTS namespace (or guest) takes it: one DNS label, 1–63 chars. */
export function validHostname(name: string): boolean {
  return /^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(name);
}
