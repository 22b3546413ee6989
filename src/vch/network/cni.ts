// Runs a network configuration list as the CNI spec says a runtime does: ADD through the
// plugins in order, each given the result of the one before; CHECK in order and DEL in reverse,
// each given the result of the last ADD. A plugin is an executable in CNI_PATH, run with the
// CNI_* variables and its config on stdin; what it prints is its result or its error.
import { runCommand } from '../../spawn/run-command.js';
import { invalidInput, unavailable } from '../errors.js';
import { type CniResult, failureMessage, parseResult } from './cni-result.js';
import { type NetworkConf, pluginInput, type RuntimeArgs } from './conflist.js';

/** Where Debian's containernetworking-plugins puts the plugins. */
export const DEFAULT_CNI_PATH = '/usr/lib/cni';

export interface CniCall {
  containerId: string;
  /** The sandbox's network namespace (a path); "" on DEL when it is gone. */
  netns: string;
  ifname: string;
  args?: RuntimeArgs;
}

export class Cni {
  constructor(
    private readonly list: NetworkConf,
    private readonly cniPath = DEFAULT_CNI_PATH,
  ) {}

  async add(call: CniCall): Promise<CniResult> {
    let prev: CniResult | undefined;
    for (const plugin of this.list.plugins) {
      const out = await this.exec(
        'ADD',
        plugin.type,
        call,
        pluginInput(this.list, plugin, prev, call.args ?? {}),
      );
      prev = parseResult(out, plugin.type);
    }
    if (!prev) throw invalidInput(`the network ${this.list.name} has no plugins`);
    return prev;
  }

  async check(call: CniCall, prevResult: CniResult): Promise<void> {
    for (const plugin of this.list.plugins)
      await this.exec(
        'CHECK',
        plugin.type,
        call,
        pluginInput(this.list, plugin, prevResult, call.args ?? {}),
      );
  }

  /** DEL through every plugin, in reverse; each failure is kept and the first thrown after. */
  async del(call: CniCall, prevResult: CniResult | undefined): Promise<void> {
    const errors: Error[] = [];
    for (const plugin of [...this.list.plugins].reverse())
      await this.exec(
        'DEL',
        plugin.type,
        call,
        pluginInput(this.list, plugin, prevResult, call.args ?? {}),
      ).catch((e: Error) => errors.push(e));
    if (errors.length > 0) throw errors[0];
  }

  /**
   * Runs the IPAM plugin of the list's first plugin on its own (a lease for an interface no
   * plugin of the list makes: a pod VM's tap): ADD leases, DEL releases, in the same store.
   */
  async ipam(command: 'ADD' | 'DEL', call: CniCall): Promise<CniResult | undefined> {
    const ipam = this.list.plugins[0]?.ipam as { type?: string } | undefined;
    if (!ipam?.type) throw invalidInput(`the network ${this.list.name} has no IPAM plugin`);
    const input = { cniVersion: this.list.cniVersion, name: this.list.name, ipam };
    const out = await this.exec(command, ipam.type, call, input);
    return command === 'ADD' ? parseResult(out, ipam.type) : undefined;
  }

  /**
   * Runs one plugin of the list on its own, given a previous result: portmap for a pod VM's
   * tap, whose interface and lease no plugin of the list made.
   */
  async runPlugin(
    command: 'ADD' | 'DEL',
    type: string,
    call: CniCall,
    prevResult: CniResult | undefined,
  ): Promise<void> {
    const plugin = this.list.plugins.find((p) => p.type === type);
    if (!plugin) throw invalidInput(`the network ${this.list.name} has no ${type} plugin`);
    await this.exec(
      command,
      type,
      call,
      pluginInput(this.list, plugin, prevResult, call.args ?? {}),
    );
  }

  private async exec(
    command: 'ADD' | 'DEL' | 'CHECK',
    type: string,
    call: CniCall,
    input: Record<string, unknown>,
  ): Promise<string> {
    if (!/^[a-z0-9-]+$/.test(type)) throw invalidInput(`CNI plugin type ${JSON.stringify(type)}`);
    const bin = `${this.cniPath}/${type}`;
    const o = await runCommand(bin, [], {
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        CNI_COMMAND: command,
        CNI_CONTAINERID: call.containerId,
        CNI_NETNS: call.netns,
        CNI_IFNAME: call.ifname,
        CNI_PATH: this.cniPath,
      },
      input: JSON.stringify(input),
      timeoutMs: 60_000,
      maxBuffer: 1 << 20,
    });
    if (o.code === 0 && !o.failed && !o.overflow) return o.stdout;
    if (o.failed?.code === 'ENOENT')
      throw unavailable(
        `CNI plugin ${bin} is missing: install Debian's containernetworking-plugins`,
      );
    throw unavailable(`${command}: ${failureMessage(type, o.stdout, o.stderr)}`);
  }
}
