// What CNI plugins answer (spec 1.0): a result (interfaces, IPs, routes) after ADD, an error
// object ({code, msg, details}) on failure. Parsed into the one endpoint the VCH keeps per pod:
// its address on the bridge, the gateway, the interface's MAC and the host's end of the veth.
import { invalidInput } from '../errors.js';

export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: unknown;
}

export interface Endpoint {
  /** The pod's address with its prefix, "10.88.0.2/16". */
  address: string;
  gateway: string;
  mac?: string;
  /** The host's end of the pod's veth. */
  hostVeth?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The result a plugin printed; InvalidInput when it is not one. */
export function parseResult(stdout: string, plugin: string): CniResult {
  let v: unknown;
  try {
    v = JSON.parse(stdout);
  } catch {
    throw invalidInput(`CNI plugin ${plugin} printed no JSON result: ${stdout.slice(0, 200)}`);
  }
  if (!isObject(v)) throw invalidInput(`CNI plugin ${plugin}: the result is not an object`);
  if (v.ips !== undefined && !Array.isArray(v.ips))
    throw invalidInput(`CNI plugin ${plugin}: "ips" is not a list`);
  if (v.interfaces !== undefined && !Array.isArray(v.interfaces))
    throw invalidInput(`CNI plugin ${plugin}: "interfaces" is not a list`);
  return v as CniResult;
}

/** The pod's endpoint in a result: the IPv4 address on the interface in its sandbox. */
export function endpointOf(result: CniResult, ifname: string): Endpoint {
  const ifaces = result.interfaces ?? [];
  const podIf = ifaces.findIndex((i) => i.name === ifname && i.sandbox);
  const ip = (result.ips ?? []).find(
    (i) =>
      typeof i.address === 'string' &&
      i.address.includes('.') &&
      (podIf < 0 || i.interface === podIf),
  );
  if (!ip) throw invalidInput(`the CNI result gives ${ifname} no IPv4 address`);
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(ip.address))
    throw invalidInput(`the CNI result's address ${JSON.stringify(ip.address)} is not a.b.c.d/n`);
  const host = ifaces.find((i) => !i.sandbox && i.name.startsWith('veth'));
  return {
    address: ip.address,
    gateway: ip.gateway ?? '',
    ...(podIf >= 0 && ifaces[podIf].mac && { mac: ifaces[podIf].mac }),
    ...(host && { hostVeth: host.name }),
  };
}

/** One line from a plugin's failure: its error object's message and details, else its output. */
export function failureMessage(plugin: string, stdout: string, stderr: string): string {
  try {
    const v: unknown = JSON.parse(stdout);
    if (isObject(v) && typeof v.msg === 'string') {
      const details = typeof v.details === 'string' && v.details ? `: ${v.details}` : '';
      return `CNI plugin ${plugin}: ${v.msg}${details}`;
    }
  } catch {
    // not an error object: fall through to the raw output
  }
  const text = (stderr || stdout).trim().split('\n').filter(Boolean).pop() ?? 'failed';
  return `CNI plugin ${plugin}: ${text.slice(0, 300)}`;
}
