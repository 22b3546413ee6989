// `docker ps` filtering of the VCH's container rows.
import type { ContainerRow } from './db.js';
import type { ContainerFilter } from './types.js';

/** Docker's `ps` filters: any of the names, any of the ids, any of the statuses, all labels. */
export function matchesFilter(r: ContainerRow, f: ContainerFilter): boolean {
  const showAll = f.all || (f.statuses !== undefined && f.statuses.length > 0);
  if (!showAll && r.status !== 'running') return false;
  if (f.podId !== undefined && r.podId !== f.podId) return false;
  if (f.statuses?.length && !f.statuses.includes(r.status)) return false;
  if (f.ids?.length && !f.ids.some((p) => r.id.startsWith(p))) return false;
  if (f.names?.length && !f.names.some((n) => nameMatches(r.name, n))) return false;
  if (f.labels?.length) {
    const labels = r.config.labels ?? {};
    for (const l of f.labels) {
      const eq = l.indexOf('=');
      if (eq < 0 ? !(l in labels) : labels[l.slice(0, eq)] !== l.slice(eq + 1)) return false;
    }
  }
  return true;
}

/**
 * Docker matches names as a regular expression against "/name". Patterns from an API caller are
 * not compiled here (a nested quantifier could stall the daemon); what people write — a part
 * of the name, or one anchored with ^ and $ — is matched as text.
 */
function nameMatches(name: string, pattern: string): boolean {
  const full = `/${name}`;
  const start = pattern.startsWith('^');
  const end = pattern.endsWith('$') && pattern.length > (start ? 1 : 0);
  const text = pattern.slice(start ? 1 : 0, end ? -1 : undefined);
  if (start && end) return full === text || name === text;
  if (start) return full.startsWith(text) || name.startsWith(text);
  if (end) return full.endsWith(text);
  return full.includes(text);
}
