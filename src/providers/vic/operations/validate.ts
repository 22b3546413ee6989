// What makes a pod impossible to run here, found before anything is pulled or created, so the
// node marks it Failed at once (InvalidInput) instead of retrying forever. Every field the pod
// sets is held to the tables of pod-fields.ts: a field this node does not apply refuses the pod
// with its reason, rather than being accepted and ignored.
import type * as k8s from '@kubernetes/client-node';
import { NodeError } from '../../../node/errors.js';
import { splitReference } from '../proxy/reference.js';
import { type FieldContext, type FieldRule, refusal, unset } from './field-rules.js';
import {
  CONTAINER_FIELDS,
  EPHEMERAL_CONTAINER_FIELDS,
  POD_SECURITY_CONTEXT_FIELDS,
  POD_SPEC_FIELDS,
  SECURITY_CONTEXT_FIELDS,
} from './pod-fields.js';
import type { HostAccessPolicy } from './host-access.js';
import { parseQuantity } from './quantity.js';
import { validateVolumes } from './volumes/validate-volumes.js';

const refuse = (message: string) => new NodeError('InvalidInput', message);

/** Holds each field `obj` sets to `table`; `path` names the object in the message. */
function checkFields(
  table: Record<string, FieldRule>,
  obj: object | undefined,
  ctx: FieldContext,
  path: string,
): void {
  for (const [field, value] of Object.entries(obj ?? {})) {
    const rule = table[field];
    // A field newer than this node (a newer API server) is refused, never ignored.
    if (!rule) {
      if (unset(value)) continue;
      throw refuse(`${path}.${field}: this node does not know the field, so it cannot apply it`);
    }
    const why = refusal(rule, value, ctx);
    if (why) throw refuse(`${path}.${field}: ${why}`);
  }
}

/** Refuses a pod this node cannot run as asked; `node` is what its flags allow. */
export function validatePod(pod: k8s.V1Pod, node: HostAccessPolicy = {}): void {
  const m = pod.metadata;
  if (!m?.name || !m.namespace) throw refuse('a pod needs a namespace and a name');
  const spec = pod.spec;
  if (!spec?.containers?.length) throw refuse(`pod ${m.namespace}/${m.name} has no containers`);
  checkFields(POD_SPEC_FIELDS, spec, { pod, node }, 'spec');
  checkFields(
    POD_SECURITY_CONTEXT_FIELDS,
    spec.securityContext,
    { pod, node },
    'spec.securityContext',
  );
  validateVolumes(pod);
  const names = new Set<string>();
  const inits = new Set(spec.initContainers ?? []);
  // Init containers are held to the same tables: each runs as a task as an app container does.
  for (const c of [...inits, ...spec.containers]) {
    if (names.has(c.name)) throw refuse(`two containers are named ${JSON.stringify(c.name)}`);
    names.add(c.name);
    const list = inits.has(c) ? 'initContainers' : 'containers';
    const at = `spec.${list}[${JSON.stringify(c.name)}]`;
    const ctx = { pod, container: c, init: inits.has(c), node };
    checkFields(CONTAINER_FIELDS, c, ctx, at);
    checkFields(SECURITY_CONTEXT_FIELDS, c.securityContext, ctx, `${at}.securityContext`);
    if (!c.image) throw refuse(`container ${c.name} has no image`);
    splitReference(c.image);
    // Sources the kubelet has behind feature gates this node does not (fileKeyRef): refused
    // here, where the pod fails at once, not retried as a configuration that may yet appear.
    const unsupported = c.env?.find(
      ({ valueFrom: f }) =>
        f && !f.fieldRef && !f.resourceFieldRef && !f.configMapKeyRef && !f.secretKeyRef,
    );
    if (unsupported)
      throw new NodeError(
        'InvalidInput',
        `container ${c.name}: env ${unsupported.name} takes its value from a source this node does not support`,
      );
    for (const [what, q] of Object.entries({ ...c.resources?.requests, ...c.resources?.limits }))
      parseQuantity(q, `container ${c.name}: ${what}`);
  }
}

/**
 * Holds an ephemeral container (kubectl debug) to its table. It is added to a running pod, so
 * what cannot be run fails that container alone (the provider makes it wait with the reason),
 * never the pod.
 */
export function validateEphemeralContainer(pod: k8s.V1Pod, ec: k8s.V1EphemeralContainer): void {
  const at = `spec.ephemeralContainers[${JSON.stringify(ec.name)}]`;
  const ctx = { pod, container: ec as k8s.V1Container, init: false };
  checkFields(EPHEMERAL_CONTAINER_FIELDS, ec, ctx, at);
  checkFields(SECURITY_CONTEXT_FIELDS, ec.securityContext, ctx, `${at}.securityContext`);
  if (!ec.image) throw refuse(`ephemeral container ${ec.name} has no image`);
  splitReference(ec.image);
  const taken = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  if (taken.some((c) => c.name === ec.name))
    throw refuse(`${at}: a container of the pod has that name already`);
  const target = ec.targetContainerName;
  if (target !== undefined && target !== '' && !taken.some((c) => c.name === target))
    throw refuse(`${at}.targetContainerName: no container ${JSON.stringify(target)} in the pod`);
}
