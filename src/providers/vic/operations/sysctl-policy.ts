// Which sysctls a pod may set on this node: the kubelet's admission rule. The safe set
// (pkg/kubelet/sysctl: namespaced and isolated between pods) is always allowed; others only when
// the node allows them (--allowed-unsafe-sysctls, names or prefixes ending in "*", which the CLI
// has checked to be namespaced: cli/sysctl-flags.ts). A pod that asks for more is rejected as the
// kubelet rejects it: Failed, reason SysctlForbidden. The VCH checks again that each one lives in
// the pod's own namespaces.
import type * as k8s from '@kubernetes/client-node';
import { AdmissionError } from '../../../node/errors.js';

export const SAFE_SYSCTLS: readonly string[] = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
];

/** "net/ipv4/ip_forward" → "net.ipv4.ip_forward" (the kubelet takes both spellings). */
const dotted = (name: string) =>
  name.includes('/') && !name.includes('.') ? name.replace(/\//g, '.') : name;

function allowed(name: string, unsafe: readonly string[]): boolean {
  if (SAFE_SYSCTLS.includes(name)) return true;
  return unsafe.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : p === name));
}

/** The pod's sysctls as the VCH takes them; AdmissionError SysctlForbidden for one not allowed. */
export function podSysctls(pod: k8s.V1Pod, unsafe: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of pod.spec?.securityContext?.sysctls ?? []) {
    const name = dotted(s.name);
    if (!allowed(name, unsafe))
      throw new AdmissionError('SysctlForbidden', `forbidden sysctl: "${s.name}" not allowlisted`);
    out[name] = s.value;
  }
  return out;
}
