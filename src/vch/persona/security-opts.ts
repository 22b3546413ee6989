// Docker's HostConfig security fields → the core's security spec: ReadonlyRootfs (--read-only),
// CapAdd and CapDrop (--cap-add, --cap-drop), and SecurityOpt (--security-opt), of which only
// no-new-privileges is applied; any other option is refused in one line, never ignored.
// Capability names are checked by the runtime (unknown names are InvalidInput there).
import type { SecuritySpec } from '../../runtime/runtime.js';
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

/** The security spec a create's HostConfig asks for, or undefined when it asks nothing. */
export function securityOf(host: Record<string, unknown>): SecuritySpec | undefined {
  if (host.ReadonlyRootfs !== undefined && typeof host.ReadonlyRootfs !== 'boolean')
    throw invalidInput('invalid HostConfig.ReadonlyRootfs: want a boolean');
  const capAdd = strList(host.CapAdd, 'CapAdd');
  const capDrop = strList(host.CapDrop, 'CapDrop');
  let nnp = false;
  for (const opt of strList(host.SecurityOpt, 'SecurityOpt')) {
    const on = noNewPrivileges(opt);
    if (on === undefined)
      throw invalidInput(
        `security option ${JSON.stringify(opt)} is not supported by this VCH (only no-new-privileges)`,
      );
    nnp = on;
  }
  const spec: SecuritySpec = {
    ...(host.ReadonlyRootfs === true && { readOnlyRootfs: true }),
    ...(capAdd.length > 0 && { capAdd }),
    ...(capDrop.length > 0 && { capDrop }),
    ...(nnp && { noNewPrivileges: true }),
  };
  return Object.keys(spec).length > 0 ? spec : undefined;
}
