// --allowed-unsafe-sysctls: the kubelet's flag. Each entry a sysctl name or a prefix ending in
// "*", and only of the kinds that live in a pod's own namespaces, so no pod can reach the host's
// kernel through it.
import { sysctlName, sysctlNamespace } from '../runtime/sysctls.js';
import { UsageError } from './errors.js';

export function parseAllowedUnsafeSysctls(value: string | undefined): string[] {
  if (!value) return [];
  return value.split(',').map((raw) => {
    const p = sysctlName(raw.trim());
    const prefix = p.replace(/\*$/, '');
    // A prefix must name its namespace whole: "net.*", "kernel.shm*", "fs.mqueue.*".
    if (!/^[a-z0-9_.-]+\*?$/.test(p) || !sysctlNamespace(prefix))
      throw new UsageError(
        `--allowed-unsafe-sysctls ${JSON.stringify(raw)}: want a namespaced sysctl (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) or such a prefix ending in *`,
      );
    return p;
  });
}
