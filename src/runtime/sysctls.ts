// A pod's sysctls: which a sandbox may set. Only namespaced ones — those that live in the pod's
// own network or IPC namespace (the kernel's list, as runc and the kubelet hold it) — so a pod
// can never change the host's kernel; the kubelet's narrower "safe" set is the node's policy
// (providers/vic/operations/sysctl-policy.ts). runc sets them in the pause container's
// namespaces; a pod VM gets them on its kernel command line.
import { invalidInput } from './errors.js';

/** IPC namespace sysctls: exact names and prefixes. */
const IPC_NAMES = new Set(['kernel.sem']);
const IPC_PREFIXES = ['kernel.shm', 'kernel.msg', 'fs.mqueue.'];
const MAX_SYSCTLS = 64;

/** "net/ipv4/ip_forward" → "net.ipv4.ip_forward" (the kubelet takes both spellings). */
export function sysctlName(name: string): string {
  return name.includes('/') && !name.includes('.') ? name.replace(/\//g, '.') : name;
}

/** Which namespace holds the sysctl, or undefined when the host's kernel does. */
export function sysctlNamespace(name: string): 'net' | 'ipc' | undefined {
  const n = sysctlName(name);
  if (n.startsWith('net.')) return 'net';
  if (IPC_NAMES.has(n) || IPC_PREFIXES.some((p) => n.startsWith(p))) return 'ipc';
  return undefined;
}

/** Checks a sandbox's sysctls; returns them with canonical names. InvalidInput otherwise. */
export function checkSysctls(sysctls: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = Object.entries(sysctls ?? {});
  if (entries.length > MAX_SYSCTLS) throw invalidInput(`more than ${MAX_SYSCTLS} sysctls`);
  for (const [raw, value] of entries) {
    const name = sysctlName(raw);
    if (!/^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/.test(name))
      throw invalidInput(`sysctl ${JSON.stringify(raw)} is not a sysctl name`);
    if (!sysctlNamespace(name))
      throw invalidInput(
        `sysctl ${JSON.stringify(raw)} is not namespaced: it would change the host's kernel, not the pod's`,
      );
    if (typeof value !== 'string' || !/^[\x20-\x7e\t]{0,256}$/.test(value) || value.includes('"'))
      throw invalidInput(
        `sysctl ${name}: the value ${JSON.stringify(value)} is not one a sysctl takes`,
      );
    out[name] = value;
  }
  return out;
}
