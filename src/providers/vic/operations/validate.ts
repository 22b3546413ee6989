// What makes a pod impossible to run here, found before anything is pulled or created, so the
// node marks it Failed at once (InvalidInput) instead of retrying forever.
import type * as k8s from '@kubernetes/client-node';
import { NodeError } from '../../../node/errors.js';
import { splitReference } from '../proxy/reference.js';
import { parseQuantity } from './quantity.js';

export function validatePod(pod: k8s.V1Pod): void {
  const m = pod.metadata;
  if (!m?.name || !m.namespace)
    throw new NodeError('InvalidInput', 'a pod needs a namespace and a name');
  const spec = pod.spec;
  if (!spec?.containers?.length)
    throw new NodeError('InvalidInput', `pod ${m.namespace}/${m.name} has no containers`);
  if (spec.initContainers?.length)
    throw new NodeError('InvalidInput', 'init containers are not supported by this node yet');
  // The service-account token volume every pod gets is not mounted (no volumes yet); any other
  // volume would leave a container without data it expects, so the pod is refused.
  const other = spec.volumes?.find((v) => !v.projected);
  if (other)
    throw new NodeError(
      'InvalidInput',
      `volume ${JSON.stringify(other.name)}: volumes are not supported by this node yet`,
    );
  const names = new Set<string>();
  for (const c of spec.containers) {
    if (names.has(c.name))
      throw new NodeError('InvalidInput', `two containers are named ${JSON.stringify(c.name)}`);
    names.add(c.name);
    if (!c.image) throw new NodeError('InvalidInput', `container ${c.name} has no image`);
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
