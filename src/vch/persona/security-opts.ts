// Docker's HostConfig security fields → the core's security spec: ReadonlyRootfs (--read-only),
// CapAdd and CapDrop (--cap-add, --cap-drop), and SecurityOpt (--security-opt), of which
// no-new-privileges and seccomp are applied (seccomp=unconfined, or a profile: the docker CLI
// reads the file and sends its JSON); any other option is refused in one line, never ignored.
// Capability names are checked by the runtime (unknown names are InvalidInput there).
import type { SeccompSpec, SecuritySpec } from '../../runtime/runtime.js';
import { invalidInput } from '../errors.js';

function strList(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw invalidInput(`invalid HostConfig.${field}: want a list of strings`);
}

/** "no-new-privileges", with ":true", "=true", ":false" or "=false": whether it is on. */
function noNewPrivileges(opt: string): boolean | undefined {
  const m = /^no-new-privileges(?:[:=](true|false))?$/.exec(opt);
  return m ? m[1] !== 'false' : undefined;
}

/** "seccomp=unconfined", "seccomp=builtin" or "seccomp=<profile JSON>" (or with ':'). */
function seccompOpt(opt: string): SeccompSpec | 'builtin' | undefined {
  const m = /^seccomp[:=]([\s\S]*)$/.exec(opt);
  if (!m) return undefined;
  const v = m[1].trim();
  if (v === 'unconfined') return { type: 'Unconfined' };
  if (v === 'builtin') return 'builtin';
  if (v.startsWith('{')) return { type: 'Localhost', profile: v };
  throw invalidInput(
    `security option seccomp=${JSON.stringify(v)}: want unconfined, builtin or a profile's JSON (the docker CLI reads a profile file for you)`,
  );
}

/** HostConfig.SecurityOpt as docker inspect shows it for a spec. */
export function securityOpts(sec: SecuritySpec | undefined): string[] | null {
  const opts: string[] = [];
  if (sec?.noNewPrivileges) opts.push('no-new-privileges');
  if (sec?.seccomp?.type === 'Unconfined') opts.push('seccomp=unconfined');
  if (sec?.seccomp?.type === 'Localhost') opts.push(`seccomp=${sec.seccomp.profile}`);
  return opts.length > 0 ? opts : null;
}

/** The security spec a create's HostConfig asks for, or undefined when it asks nothing. */
export function securityOf(host: Record<string, unknown>): SecuritySpec | undefined {
  if (host.ReadonlyRootfs !== undefined && typeof host.ReadonlyRootfs !== 'boolean')
    throw invalidInput('invalid HostConfig.ReadonlyRootfs: want a boolean');
  const capAdd = strList(host.CapAdd, 'CapAdd');
  const capDrop = strList(host.CapDrop, 'CapDrop');
  let nnp = false;
  let seccomp: SeccompSpec | undefined;
  for (const opt of strList(host.SecurityOpt, 'SecurityOpt')) {
    const sc = seccompOpt(opt);
    if (sc !== undefined) {
      seccomp = sc === 'builtin' ? undefined : sc;
      continue;
    }
    const on = noNewPrivileges(opt);
    if (on === undefined)
      throw invalidInput(
        `security option ${JSON.stringify(opt)} is not supported by this VCH (only no-new-privileges and seccomp)`,
      );
    nnp = on;
  }
  const spec: SecuritySpec = {
    ...(host.ReadonlyRootfs === true && { readOnlyRootfs: true }),
    ...(capAdd.length > 0 && { capAdd }),
    ...(capDrop.length > 0 && { capDrop }),
    ...(nnp && { noNewPrivileges: true }),
    ...(seccomp && { seccomp }),
  };
  return Object.keys(spec).length > 0 ? spec : undefined;
}
