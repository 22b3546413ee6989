// Egress from the bridge, masqueraded behind the VCH's address as a node's pods are: one nat
// rule for the whole range, made once when the network opens, instead of the bridge plugin's
// ipMasq chain per pod (four or five iptables runs on every pod's start and again on its
// removal: most of what networking added to a runc pod's start).
import { unavailable } from '../errors.js';
import { type Cidr, formatCidr } from './cidr.js';
import { execCommand as run } from '../../spawn/run-command.js';

/** The rule's arguments after the table and the -C/-A. */
export function masqueradeRule(subnet: Cidr, bridge: string): string[] {
  const s = formatCidr(subnet);
  return [
    'POSTROUTING',
    '-s',
    s,
    '!',
    '-d',
    s,
    '-m',
    'comment',
    '--comment',
    `vic-kubelet ${bridge}`,
    '-j',
    'MASQUERADE',
  ];
}

/** Adds the rule unless it is there. */
export async function ensureMasquerade(subnet: Cidr, bridge: string): Promise<void> {
  const rule = masqueradeRule(subnet, bridge);
  const there = await run('iptables', ['-w', '-t', 'nat', '-C', ...rule]).then(
    () => true,
    () => false,
  );
  if (there) return;
  await run('iptables', ['-w', '-t', 'nat', '-A', ...rule]).catch((e: Error) => {
    throw unavailable(`cannot add the bridge's masquerade rule (iptables): ${e.message}`);
  });
}
