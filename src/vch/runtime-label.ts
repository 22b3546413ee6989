// A pod's choice of backend: the label (Kubernetes annotation, `docker run --label`,
// `docker run --runtime`) `vic-kubelet.io/runtime=runc|vm`. Checked here, where the VCH takes it.
import { invalidInput } from './errors.js';

export type BackendName = 'runc' | 'vm';

/** The pod label that asks for a backend. */
export const RUNTIME_LABEL = 'vic-kubelet.io/runtime';

/** A requested backend, checked; undefined or '' means the VCH's default. */
export function checkBackend(value: string | undefined, what: string): BackendName | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'runc' || value === 'vm') return value;
  throw invalidInput(`${what} ${JSON.stringify(value)}: want runc or vm`);
}

/** The backend a pod's labels ask for, if any. */
export function backendOfLabels(
  labels: Record<string, string> | undefined,
): BackendName | undefined {
  return checkBackend(labels?.[RUNTIME_LABEL], `label ${RUNTIME_LABEL}=`);
}
