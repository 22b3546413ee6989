// The vocabulary of the pod-field tables (pod-fields.ts): what this node does with one field of
// a pod. Kubernetes conformance is the yardstick — a field behaves as on a real kubelet, or the
// pod is refused with the rule's reason; nothing is accepted and silently ignored. The one
// exception is `gap`: a value the API server itself puts on every pod, which the node does not
// honour yet and cannot refuse without refusing every pod; each gap is listed in the README.
import type * as k8s from '@kubernetes/client-node';
import type { HostAccessPolicy } from './host-access.js';

/** Where a field is read: the pod, and the container when the field is a container's. */
export interface FieldContext {
  pod: k8s.V1Pod;
  container?: k8s.V1Container;
  /** The container is one of spec.initContainers. */
  init?: boolean;
  /** What the node was started to allow (host-access.ts). */
  node?: HostAccessPolicy;
}

/** Values of a field that ask nothing this node does not do, with their words for the README. */
export interface Allowed {
  values: string;
  allows(value: unknown, ctx: FieldContext): boolean;
}

export type FieldRule =
  /** The node applies it: `by` says how, `test` is the test file that shows it. */
  | { applied: string; test: string }
  /** The control plane's (scheduler, API server admission, controllers): nothing for a node. */
  | { controlPlane: string }
  /** Refused when set, unless the value is one that `unless` allows. */
  | { refused: string; unless?: Allowed }
  /** Accepted only as the API server defaults it (`unless`), though not honoured yet. */
  | { gap: string; unless: Allowed };

/** A field that is absent, or empty: nothing asked. */
export function unset(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(unset);
  return false;
}

/** Allows exactly the listed values (or nothing). */
export function only(...values: unknown[]): Allowed {
  return {
    values: values.map((v) => JSON.stringify(v)).join(', '),
    allows: (v) => values.includes(v),
  };
}

/** The reason a pod is refused over this field's value, or undefined when it is fine. */
export function refusal(rule: FieldRule, value: unknown, ctx: FieldContext): string | undefined {
  if (unset(value)) return undefined;
  if ('refused' in rule) return rule.unless?.allows(value, ctx) ? undefined : rule.refused;
  if ('gap' in rule) return rule.unless.allows(value, ctx) ? undefined : rule.gap;
  return undefined;
}
