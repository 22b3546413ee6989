// Linux capabilities by name, and the set a container's processes may hold: Docker's default set,
// then its --cap-drop and --cap-add (moby's rules, which Kubernetes' capabilities.drop/add
// follow on a Docker node): "ALL" in add gives every capability but the dropped ones; "ALL" in
// drop starts from none and keeps only the added ones; otherwise the default set minus drop
// plus add (a capability in both is added). Names with or without "CAP_", any case.
import { readFileSync } from 'node:fs';
import { invalidInput } from './errors.js';

/** Capability N is CAP_NAMES[N] (linux/capability.h). */
export const CAP_NAMES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** Docker's default capabilities (moby oci/caps/defaults.go). */
export const DEFAULT_CAPS = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
];

/** "cap_net_admin", "NET_ADMIN" → "NET_ADMIN"; "ALL" stays; InvalidInput for an unknown name. */
export function capName(name: string): string {
  const n = name.toUpperCase().replace(/^CAP_/, '');
  if (n !== 'ALL' && !(CAP_NAMES as readonly string[]).includes(n))
    throw invalidInput(`unknown capability ${JSON.stringify(name)}`);
  return n;
}

let bounding: string[] | undefined;

/**
 * The capabilities this process may hand on: its bounding set (CapBnd), as containerd takes a
 * privileged container's set from its own — a runtime that lacks one (a container-run VCH)
 * cannot give it, and runc would fail the start asking for it.
 */
export function ownCapabilities(): string[] {
  if (!bounding) {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    const mask = m ? BigInt(`0x${m[1]}`) : 0n;
    bounding = CAP_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n);
  }
  return bounding;
}

/** A container's capabilities: all this process holds when privileged, else effectiveCaps. */
export function containerCaps(
  sec: { privileged?: boolean; capAdd?: string[]; capDrop?: string[] } = {},
): string[] {
  return sec.privileged ? [...ownCapabilities()] : effectiveCaps(sec.capAdd, sec.capDrop);
}

/** The capabilities a container's processes may hold, by name (no CAP_ prefix), in number order. */
export function effectiveCaps(add: string[] = [], drop: string[] = []): string[] {
  const a = add.map(capName);
  const d = drop.map(capName);
  let caps: string[];
  if (a.includes('ALL')) caps = CAP_NAMES.filter((c) => !d.includes(c));
  else if (d.includes('ALL')) caps = a;
  else caps = [...DEFAULT_CAPS.filter((c) => !d.includes(c)), ...a];
  return CAP_NAMES.filter((c) => caps.includes(c));
}

/** A set of capability names as the tether's mask: bit N for capability N, in hex. */
export function capMask(caps: string[]): string {
  let mask = 0n;
  for (const c of caps) mask |= 1n << BigInt((CAP_NAMES as readonly string[]).indexOf(capName(c)));
  return mask.toString(16);
}
