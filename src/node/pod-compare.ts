// What counts as a change: the pod spec fields a running pod may change (images, the active
// deadline, tolerations, ephemeral containers added) and whether a status from the provider says anything the API's copy
// does not yet say.
import type * as k8s from '@kubernetes/client-node';

/**
 * True when the API's pod differs from the one the provider has in a way the provider must
 * apply. Everything else in a pod's spec is immutable once it is bound, or none of the
 * provider's business (labels and annotations are the API's).
 */
export function specChanged(running: k8s.V1Pod, wanted: k8s.V1Pod): boolean {
  const images = (p: k8s.V1Pod) => [
    ...(p.spec?.initContainers ?? []).map((c) => `init:${c.name}=${c.image}`),
    ...(p.spec?.containers ?? []).map((c) => `${c.name}=${c.image}`),
    // kubectl debug adds ephemeral containers to a running pod (they are never removed).
    ...(p.spec?.ephemeralContainers ?? []).map((c) => `ephemeral:${c.name}=${c.image}`),
  ];
  return (
    JSON.stringify(images(running)) !== JSON.stringify(images(wanted)) ||
    running.spec?.activeDeadlineSeconds !== wanted.spec?.activeDeadlineSeconds ||
    canonical(running.spec?.tolerations ?? []) !== canonical(wanted.spec?.tolerations ?? [])
  );
}

/**
 * True when `reported` says something `current` does not: every field the provider set is
 * compared with the API's copy; fields it left out (the apiserver may add its own) are not.
 * Times are compared to the second, the precision the API keeps.
 */
export function statusDiffers(
  reported: k8s.V1PodStatus,
  current: k8s.V1PodStatus | undefined,
): boolean {
  return !covers(normal(current ?? {}), normal(reported));
}

function normal(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'string' ? secondsOf(x) : x)));
}

// JSON.stringify turns Dates into ISO strings with milliseconds; the API keeps seconds.
const ISO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$/;
function secondsOf(s: string): string {
  const m = ISO.exec(s);
  return m ? `${m[1]}Z` : s;
}

/** Whether `have` contains everything in `want` (objects: want's keys; arrays: element-wise). */
function covers(have: unknown, want: unknown): boolean {
  if (want === null || typeof want !== 'object') return have === want;
  if (Array.isArray(want)) {
    return (
      Array.isArray(have) && have.length === want.length && want.every((w, i) => covers(have[i], w))
    );
  }
  if (have === null || typeof have !== 'object' || Array.isArray(have)) return false;
  return Object.entries(want as Record<string, unknown>).every(([k, w]) =>
    covers((have as Record<string, unknown>)[k], w),
  );
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}
