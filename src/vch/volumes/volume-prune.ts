// Which volumes may go without being asked for by name:
// - `docker volume prune` (Docker API POST /volumes/prune): volumes no container mounts and no
//   pod owns (a pod's volumes go with their pod), picked by Docker's filters: `all` (since API
//   1.42 only anonymous volumes are pruned unless all=true; before, all unused ones), `label`
//   and `label!` (key or key=value);
// - orphans: ephemeral volumes whose pod never came to be — its creation stopped between
//   CreateVolume and the handle's commit (the node crashed, or could not reach the VCH to
//   remove them). A handle lives 15 minutes unused and none survives a VCH restart, so an
//   orphan older than ORPHAN_AGE_MS, or any orphan when the VCH opens, can never be committed.
import { invalidInput } from '../errors.js';
import type { VolumeInfo } from './volume-types.js';

/** Docker's label on an anonymous volume (`docker run -v /path`). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** An ephemeral volume without its pod for this long is an orphan (ms): 4 handle lifetimes. */
export const ORPHAN_AGE_MS = 60 * 60_000;

export interface PruneFilter {
  all: boolean;
  labels: string[];
  notLabels: string[];
}

const truthy: Record<string, boolean> = { true: true, '1': true, false: false, '0': false };

/** Docker's prune filters; InvalidInput for one it does not know. `defaultAll`: API < 1.42. */
export function pruneFilter(filters: Map<string, string[]>, defaultAll: boolean): PruneFilter {
  for (const k of filters.keys())
    if (!['all', 'label', 'label!'].includes(k))
      throw invalidInput(`invalid filter '${k}' (volume prune takes all, label and label!)`);
  const all = filters.get('all') ?? [];
  if (all.length > 1 || all.some((v) => truthy[v.toLowerCase()] === undefined))
    throw invalidInput(`invalid filter 'all=${all.join(',')}': want one of true, false, 1, 0`);
  return {
    all: all.length ? truthy[all[0].toLowerCase()] : defaultAll,
    labels: filters.get('label') ?? [],
    notLabels: filters.get('label!') ?? [],
  };
}

function hasLabel(labels: Record<string, string>, want: string): boolean {
  const i = want.indexOf('=');
  if (i < 0) return Object.hasOwn(labels, want);
  return labels[want.slice(0, i)] === want.slice(i + 1);
}

/** Whether prune removes `v`. */
export function prunes(v: VolumeInfo, f: PruneFilter): boolean {
  if (v.usedBy.length > 0 || v.owner !== undefined) return false;
  if (!f.all && !Object.hasOwn(v.metadata, ANONYMOUS_LABEL)) return false;
  return (
    f.labels.every((l) => hasLabel(v.metadata, l)) &&
    !f.notLabels.some((l) => hasLabel(v.metadata, l))
  );
}

/** Whether `v` is an orphan: ephemeral, created before `before` (ms), its pod not among `pods`. */
export function isOrphan(v: VolumeInfo, pods: ReadonlySet<string>, before: number): boolean {
  return (
    v.ephemeral &&
    v.owner !== undefined &&
    !pods.has(v.owner) &&
    v.usedBy.length === 0 &&
    Date.parse(v.created) < before
  );
}
