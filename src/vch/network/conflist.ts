// The VCH's network as a CNI network configuration list (CNI spec 1.0): Debian's reference
// plugins in order — bridge with host-local IPAM (its lease files under the VCH's state), portmap
// for published ports, firewall for the forward rules — and the config each plugin
// reads on stdin: the plugin's own entry with the list's name and version, the previous result,
// and the runtime's values for the capabilities the plugin declares.
import type { PublishedPort } from '../../runtime/runtime.js';
import { type Cidr, formatCidr, gatewayOf } from './cidr.js';

export const CNI_VERSION = '1.0.0';

export interface NetworkConf {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface ConflistOptions {
  /** The network's name (also the key host-local files its leases under). */
  name: string;
  /** The Linux bridge (at most 15 bytes). */
  bridge: string;
  subnet: Cidr;
  /** host-local's lease directory: part of the VCH's state. */
  ipamDir: string;
}

export function buildConflist(o: ConflistOptions): NetworkConf {
  return {
    cniVersion: CNI_VERSION,
    name: o.name,
    plugins: [
      {
        type: 'bridge',
        bridge: o.bridge,
        isGateway: true,
        // Egress leaves masqueraded behind the VCH's address, as a node's pods do — by one rule
        // for the range (masquerade.ts), not a chain per pod.
        ipMasq: false,
        // A pod reaches itself through a published port of its own.
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: formatCidr(o.subnet), gateway: gatewayOf(o.subnet) }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: o.ipamDir,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      { type: 'firewall' },
      // No `loopback`: the namespaces attached are runc sandboxes', whose lo runc brings up
      // itself (a new network namespace gets runc's loopback network); the plugin would be one
      // more process on each pod's ADD and DEL for nothing.
    ],
  };
}

/**
 * The list without one plugin: portmap, for a pod that publishes no port (it would only cost a
 * process and its iptables checks on each start and removal). ADD and DEL use the same one.
 */
export function withoutPlugin(list: NetworkConf, type: string): NetworkConf {
  return { ...list, plugins: list.plugins.filter((p) => p.type !== type) };
}

/** A port published on the host (Docker's -p, a pod's hostPort): portmap takes it as is. */
export type PortMapping = PublishedPort;

/** What the runtime hands the plugins that declare a capability for it. */
export interface RuntimeArgs {
  portMappings?: PortMapping[];
}

/** The config a plugin reads on stdin. */
export function pluginInput(
  list: NetworkConf,
  plugin: PluginConf,
  prevResult: unknown,
  args: RuntimeArgs,
): Record<string, unknown> {
  const { capabilities, ...own } = plugin;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(capabilities ?? {}))
    if (on && args[cap as keyof RuntimeArgs] !== undefined)
      runtimeConfig[cap] = args[cap as keyof RuntimeArgs];
  return {
    ...own,
    cniVersion: list.cniVersion,
    name: list.name,
    ...(Object.keys(runtimeConfig).length > 0 && { runtimeConfig }),
    ...(prevResult !== undefined && { prevResult }),
  };
}
