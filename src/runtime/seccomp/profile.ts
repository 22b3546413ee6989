// Seccomp profiles: the JSON that Docker, Podman and Kubernetes' Localhost profiles use (moby's
// format, of which the OCI runtime spec's linux.seccomp is the resolved subset), checked, then
// resolved for one container: the rules whose `includes`/`excludes` (capabilities, architectures,
// kernel version) fit it, as containers/common does before handing the profile to runc. The
// result feeds both backends: runc takes it as linux.seccomp, the pod VM agent as a BPF program
// compiled by bpf.ts.
import { invalidInput } from '../errors.js';

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_LOG',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

export const SECCOMP_OPS = [
  'SCMP_CMP_EQ',
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_GT',
  'SCMP_CMP_GE',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOp = (typeof SECCOMP_OPS)[number];

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo: number;
  op: SeccompOp;
}

/** One rule after resolution: these system calls get `action` when all `args` hold. */
export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args: SeccompArg[];
}

export interface ResolvedProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  /** libseccomp's names (SCMP_ARCH_X86_64, ...): the architectures the filter covers. */
  architectures: string[];
  syscalls: SeccompRule[];
}

/** Who the profile is resolved for. */
export interface ResolveTarget {
  /** The container's capabilities, without CAP_ (capabilities.ts names). */
  caps: string[];
  /** The kernel's version, "6.1.0-..." (for minKernel). */
  kernel: string;
}

/** Go's name of this machine's architecture (the `arches` of includes/excludes) and its libseccomp one. */
const GO_ARCH = 'amd64';
const SCMP_ARCH = 'SCMP_ARCH_X86_64';
/** Past this a profile is not a profile (the default one is about 20 KiB). */
export const MAX_PROFILE_BYTES = 1 << 20;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function strings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  throw invalidInput(`seccomp profile: ${what} must be a list of strings`);
}

function action(v: unknown, what: string): SeccompAction {
  if (typeof v === 'string' && (SECCOMP_ACTIONS as readonly string[]).includes(v))
    return v as SeccompAction;
  throw invalidInput(
    `seccomp profile: ${what} ${JSON.stringify(v)} is not an action this node applies`,
  );
}

function uint(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max) return v;
  throw invalidInput(`seccomp profile: ${what} must be an integer from 0 to ${max}`);
}

function args(v: unknown, what: string): SeccompArg[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidInput(`seccomp profile: ${what}.args must be a list`);
  return v.map((a, i) => {
    if (!isObj(a)) throw invalidInput(`seccomp profile: ${what}.args[${i}] must be an object`);
    const op = a.op;
    if (typeof op !== 'string' || !(SECCOMP_OPS as readonly string[]).includes(op))
      throw invalidInput(`seccomp profile: ${what}.args[${i}].op ${JSON.stringify(op)} is unknown`);
    return {
      index: uint(a.index, `${what}.args[${i}].index`, 5),
      value: uint(a.value, `${what}.args[${i}].value`),
      valueTwo: uint(a.valueTwo, `${what}.args[${i}].valueTwo`),
      op: op as SeccompOp,
    };
  });
}

/** "6.1.0-18-amd64" ≥ "5.8"? Compares the numeric parts in order. */
export function kernelAtLeast(kernel: string, min: string): boolean {
  const nums = (s: string) => (s.match(/^\d+(\.\d+)*/)?.[0] ?? '0').split('.').map(Number);
  const a = nums(kernel);
  const b = nums(min);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** Whether includes (all must hold) / excludes (any excludes) let a rule apply to `t`. */
function applies(rule: Json, t: ResolveTarget, what: string): boolean {
  const caps = new Set(t.caps.map((c) => `CAP_${c}`));
  const inc = isObj(rule.includes) ? rule.includes : {};
  const exc = isObj(rule.excludes) ? rule.excludes : {};
  const incArches = strings(inc.arches, `${what}.includes.arches`);
  if (incArches.length > 0 && !incArches.includes(GO_ARCH)) return false;
  if (!strings(inc.caps, `${what}.includes.caps`).every((c) => caps.has(c))) return false;
  if (typeof inc.minKernel === 'string' && !kernelAtLeast(t.kernel, inc.minKernel)) return false;
  if (strings(exc.arches, `${what}.excludes.arches`).includes(GO_ARCH)) return false;
  if (strings(exc.caps, `${what}.excludes.caps`).some((c) => caps.has(c))) return false;
  if (typeof exc.minKernel === 'string' && kernelAtLeast(t.kernel, exc.minKernel)) return false;
  return true;
}

/** The architectures a profile covers on this machine: its archMap entry, or `architectures`. */
function architectures(p: Json): string[] {
  if (Array.isArray(p.archMap)) {
    for (const m of p.archMap) {
      if (isObj(m) && m.architecture === SCMP_ARCH)
        return [SCMP_ARCH, ...strings(m.subArchitectures, 'archMap.subArchitectures')];
    }
    return [SCMP_ARCH];
  }
  const list = strings(p.architectures, 'architectures');
  return list.length > 0 ? list : [SCMP_ARCH];
}

/** Parses profile text, checks it and resolves it for `t`. InvalidInput with the reason. */
export function resolveProfile(text: string, t: ResolveTarget): ResolvedProfile {
  if (Buffer.byteLength(text) > MAX_PROFILE_BYTES)
    throw invalidInput(`seccomp profile: larger than ${MAX_PROFILE_BYTES} bytes`);
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch (err) {
    throw invalidInput(`seccomp profile: not JSON (${(err as Error).message})`);
  }
  if (!isObj(p)) throw invalidInput('seccomp profile: must be a JSON object');
  if (p.listenerPath)
    throw invalidInput('seccomp profile: listenerPath (SCMP_ACT_NOTIFY) is not supported');
  const defaultAction = action(p.defaultAction, 'defaultAction');
  const syscalls: SeccompRule[] = [];
  const list = p.syscalls ?? [];
  if (!Array.isArray(list)) throw invalidInput('seccomp profile: syscalls must be a list');
  list.forEach((r, i) => {
    const what = `syscalls[${i}]`;
    if (!isObj(r)) throw invalidInput(`seccomp profile: ${what} must be an object`);
    const names = strings(r.names, `${what}.names`);
    if (typeof r.name === 'string') names.push(r.name);
    if (names.length === 0) throw invalidInput(`seccomp profile: ${what} names no system call`);
    const act = action(r.action, `${what}.action`);
    const rule: SeccompRule = { names, action: act, args: args(r.args, what) };
    if (r.errnoRet !== undefined) rule.errnoRet = uint(r.errnoRet, `${what}.errnoRet`, 4095);
    if (applies(r, t, what)) syscalls.push(rule);
  });
  const resolved: ResolvedProfile = {
    defaultAction,
    architectures: architectures(p),
    syscalls,
  };
  if (p.defaultErrnoRet !== undefined)
    resolved.defaultErrnoRet = uint(p.defaultErrnoRet, 'defaultErrnoRet', 4095);
  return resolved;
}

/** The OCI runtime spec's linux.seccomp for runc. */
export function ociSeccomp(r: ResolvedProfile): object {
  return {
    defaultAction: r.defaultAction,
    ...(r.defaultErrnoRet !== undefined && { defaultErrnoRet: r.defaultErrnoRet }),
    architectures: r.architectures,
    syscalls: r.syscalls.map((s) => ({
      names: s.names,
      action: s.action,
      ...(s.errnoRet !== undefined && { errnoRet: s.errnoRet }),
      ...(s.args.length > 0 && { args: s.args }),
    })),
  };
}
