// Pod VMs on the VCH's bridge: the CNI bridge plugin attaches network namespaces (veths), and a
// VM has none of its own on the host — qemu needs a tap device. So the VCH makes the tap itself
// (`ip tuntap`, persistent, so it outlives a qemu and a VCH restart), puts it on the bridge, and
// leases the address from the same host-local store as the runc pods' (cni.ts ipam()). The
// bridge is made here too when no runc pod has made it yet, as the bridge plugin would: the
// gateway's address on it, up.
import { unavailable } from '../errors.js';
import { type Cidr, gatewayOf } from './cidr.js';
import { execCommand as run } from '../../spawn/run-command.js';

async function ip(args: string[], what: string): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw unavailable(`${what}: ${(err.stderr || err.message).trim()}`);
  }
}

/** The tap of a sandbox: "vt" and 12 hex digits of its id (IFNAMSIZ is 16). */
export function tapName(sandboxId: string): string {
  return `vt${sandboxId.slice(0, 12)}`;
}

/** The VM's MAC from its address, as Docker derives a container's (02:42 and the four bytes). */
export function macOf(address: string): string {
  const bytes = address.split('/')[0].split('.').map(Number);
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The bridge, with the gateway's address on it and up; made if it is not there. */
export async function ensureBridge(bridge: string, subnet: Cidr): Promise<void> {
  const exists = await run('ip', ['-j', 'link', 'show', 'dev', bridge]).then(
    () => true,
    () => false,
  );
  if (!exists)
    await ip(['link', 'add', 'name', bridge, 'type', 'bridge'], `cannot make the bridge ${bridge}`);
  const gw = `${gatewayOf(subnet)}/${subnet.prefix}`;
  const addrs = await ip(['-j', '-4', 'addr', 'show', 'dev', bridge], 'ip addr');
  if (!addrs.includes(`"${gatewayOf(subnet)}"`))
    await ip(['addr', 'add', gw, 'dev', bridge], `cannot give the bridge ${bridge} ${gw}`);
  await ip(['link', 'set', bridge, 'up'], `cannot bring the bridge ${bridge} up`);
}

/** A persistent tap on the bridge, up (qemu opens it by name). Replaces one of the same name. */
export async function makeTap(tap: string, bridge: string): Promise<void> {
  await deleteTap(tap);
  await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap'], `cannot make the tap ${tap}`);
  await ip(['link', 'set', tap, 'master', bridge, 'up'], `cannot put the tap ${tap} on ${bridge}`);
  // Hairpin, as the bridge plugin's hairpinMode gives the runc pods' veths: a VM that reaches
  // itself through a Service's ClusterIP (or its own published port) is DNATed back to its own
  // address, and the bridge must send that frame out of the port it came in on.
  await ip(
    ['link', 'set', 'dev', tap, 'type', 'bridge_slave', 'hairpin', 'on'],
    `cannot set hairpin on the tap ${tap}`,
  );
}

/** Removes the tap; nothing to do when it is gone. */
export async function deleteTap(tap: string): Promise<void> {
  await run('ip', ['link', 'del', 'dev', tap]).catch(() => undefined);
}
