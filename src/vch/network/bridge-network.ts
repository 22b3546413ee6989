// The VCH's bridge network (VIC's bridge scope): a Linux bridge of its own, named after its
// state directory so that VCHs side by side never share one, and a range that overlaps none of
// the host's routes. Each pod sandbox is attached through CNI (cni.ts) with Debian's plugins;
// the leases are host-local's files under <state>/network/ipam, and each attachment is a record
// (<state>/network/attachments/<id>.json: the pinned namespace and the ADD result) written
// before the ADD, so whatever a crash cuts short is found and undone by reconcile().
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readJson, writeJsonAtomic } from '../../runtime/core/files.js';
import { isMounted } from '../../runtime/core/rootfs.js';
import type { SandboxAddress, SandboxNetwork, TapAttachment } from '../../runtime/runtime.js';
import { invalidInput, unavailable } from '../errors.js';
import type { VchLogger } from '../services/context.js';
import type { NetworkInfo, PodNetworkInfo } from '../types.js';
import {
  type Cidr,
  chooseBridgeCidr,
  formatCidr,
  gatewayOf,
  type Route,
  routedRanges,
} from './cidr.js';
import { Cni, type CniCall, DEFAULT_CNI_PATH } from './cni.js';
import { type CniResult, endpointOf, type Endpoint } from './cni-result.js';
import { buildConflist, type NetworkConf, type PortMapping, withoutPlugin } from './conflist.js';
import { ensureMasquerade } from './masquerade.js';
import { deleteTap, ensureBridge, macOf, makeTap, tapName } from './taps.js';
import { execCommand as run } from '../../spawn/run-command.js';

/** The name of the bridge scope, as VIC and Docker call it. */
export const BRIDGE_SCOPE = 'bridge';

/** The interface a pod sees: eth0, as on Docker and Kubernetes. */
export const POD_IFNAME = 'eth0';

interface Attachment {
  id: string;
  /** The sandbox's network namespace, bind-mounted here so DEL finds it even after it died. */
  netns: string;
  /** The ADD result (absent while the ADD is under way or when it failed). */
  result?: CniResult;
  ports?: PortMapping[];
  /** A pod VM's: its tap on the bridge (netns is then ""); result is host-local's lease. */
  tap?: string;
}

/** What the VCH keeps of its network (<state>/network/network.json). */
interface Saved {
  subnet: string;
  bridge: string;
}

export interface BridgeNetworkOptions {
  /** The VCH's state directory. */
  stateDir: string;
  /** `--bridge-network`: absent, the one chosen before, else the first default that fits. */
  cidr?: string;
  cniPath?: string;
  logger: VchLogger;
}

/** The bridge of the VCH at `stateDir`: "vic" and 8 hex digits of its path (IFNAMSIZ is 16). */
export function bridgeName(stateDir: string): string {
  return 'vic' + createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 8);
}

/** The host's IPv4 routes, as `ip -j route` gives them (in the VCH's network namespace). */
async function hostRoutes(): Promise<Route[]> {
  const { stdout } = await run('ip', ['-j', '-4', 'route', 'show']).catch((e: Error) => {
    throw unavailable(`cannot read the host's routes (ip route): ${e.message}`);
  });
  return JSON.parse(stdout || '[]') as Route[];
}

export class BridgeNetwork implements SandboxNetwork {
  readonly #attachments = new Map<string, Attachment>();
  /** The list without portmap, for pods that publish nothing (ADD and DEL alike). */
  readonly #noPorts: Cni;

  private constructor(
    readonly subnet: Cidr,
    readonly bridge: string,
    private readonly dir: string,
    private readonly cni: Cni,
    private readonly conf: NetworkConf,
    private readonly log: VchLogger,
    cniPath: string,
  ) {
    this.#noPorts = new Cni(withoutPlugin(conf, 'portmap'), cniPath);
  }

  /** The plugins a sandbox's ADD and DEL run. */
  #cniFor(ports: readonly PortMapping[] | undefined): Cni {
    return ports?.length ? this.cni : this.#noPorts;
  }

  static async open(o: BridgeNetworkOptions): Promise<BridgeNetwork> {
    const dir = join(resolve(o.stateDir), 'network');
    const bridge = bridgeName(o.stateDir);
    // Checked before anything is made: a range refused leaves no trace.
    const saved = await readJson<Saved>(join(dir, 'network.json'));
    const attachments = await readAttachments(join(dir, 'attachments'));
    if (o.cidr !== undefined && saved && saved.subnet !== o.cidr && attachments.length > 0)
      throw invalidInput(
        `--bridge-network ${o.cidr}: this VCH's pods have addresses in ${saved.subnet}; remove them before changing the range`,
      );
    const routes = routedRanges(await hostRoutes(), bridge);
    const subnet = chooseBridgeCidr(o.cidr ?? saved?.subnet, routes);
    await mkdir(join(dir, 'attachments'), { recursive: true });
    await mkdir(join(dir, 'netns'), { recursive: true });
    await writeJsonAtomic(join(dir, 'network.json'), { subnet: formatCidr(subnet), bridge });
    const conf = buildConflist({ name: bridge, bridge, subnet, ipamDir: join(dir, 'ipam') });
    await writeFile(join(dir, 'conflist.json'), JSON.stringify(conf, null, 2) + '\n');
    const cniPath = o.cniPath ?? DEFAULT_CNI_PATH;
    // The bridge now, not at the first pod: its route is what keeps another VCH (beside this
    // one, in the same namespace) from taking an overlapping range, its default one included.
    await ensureBridge(bridge, subnet);
    await ensureMasquerade(subnet, bridge);
    const net = new BridgeNetwork(
      subnet,
      bridge,
      dir,
      new Cni(conf, cniPath),
      conf,
      o.logger,
      cniPath,
    );
    for (const a of attachments) net.#attachments.set(a.id, a);
    o.logger.info({ bridge, subnet: formatCidr(subnet) }, 'bridge network');
    return net;
  }

  get name(): string {
    return this.conf.name;
  }

  /** The sandbox's endpoint, once attached. */
  endpoint(sandboxId: string): Endpoint | undefined {
    const a = this.#attachments.get(sandboxId);
    if (!a?.result) return undefined;
    const ep = endpointOf(a.result, POD_IFNAME);
    return a.tap ? { ...ep, mac: macOf(ep.address) } : ep;
  }

  /** The pod's place on the network, for its info. */
  podInfo(sandboxId: string): PodNetworkInfo | undefined {
    const ep = this.endpoint(sandboxId);
    const ports = this.#attachments.get(sandboxId)?.ports;
    return (
      ep && {
        scope: BRIDGE_SCOPE,
        address: ep.address,
        gateway: ep.gateway,
        ...(ep.mac && { mac: ep.mac }),
        ...(ports && { ports }),
      }
    );
  }

  info(): NetworkInfo {
    return {
      scope: BRIDGE_SCOPE,
      bridge: this.bridge,
      subnet: formatCidr(this.subnet),
      gateway: gatewayOf(this.subnet),
    };
  }

  async attach(
    sandboxId: string,
    netnsPath: string,
    ports: PortMapping[] = [],
  ): Promise<SandboxAddress> {
    if (this.#attachments.has(sandboxId)) await this.detach(sandboxId);
    const t0 = performance.now();
    const pin = join(this.dir, 'netns', sandboxId);
    const a: Attachment = { id: sandboxId, netns: pin, ...(ports.length > 0 && { ports }) };
    await this.#save(a);
    try {
      await writeFile(pin, '');
      await run('mount', ['--bind', netnsPath, pin]).catch((e: Error) => {
        throw unavailable(`cannot pin the network namespace ${netnsPath}: ${e.message}`);
      });
      a.result = await this.#cniFor(ports).add({
        containerId: sandboxId,
        netns: pin,
        ifname: POD_IFNAME,
        args: { portMappings: ports },
      });
      const ep = endpointOf(a.result, POD_IFNAME);
      await this.#save(a);
      // attachMs: what networking adds to a pod's start (the benchmark reads it).
      const attachMs = Math.round((performance.now() - t0) * 10) / 10;
      this.log.info(
        { sandbox: sandboxId, address: ep.address, attachMs },
        'attached to the bridge',
      );
      return { address: ep.address, gateway: ep.gateway };
    } catch (e) {
      await this.detach(sandboxId).catch((err: Error) =>
        this.log.warn({ sandbox: sandboxId, err: err.message }, 'cleanup after a failed attach'),
      );
      throw e;
    }
  }

  /**
   * A pod VM's place on the bridge: a lease from the same host-local store, and a tap on the
   * bridge for its qemu. An earlier attachment of the sandbox is kept (its VM booting again, or
   * still running after a VCH restart, keeps its address); a veth one goes first.
   */
  async attachTap(sandboxId: string, ports: PortMapping[] = []): Promise<TapAttachment> {
    const known = this.#attachments.get(sandboxId);
    if (known?.tap && known.result) {
      await makeTapIfGone(known.tap, this.bridge);
      return this.#tapAttachment(known);
    }
    if (known) await this.detach(sandboxId);
    const t0 = performance.now();
    const a: Attachment = {
      id: sandboxId,
      netns: '',
      tap: tapName(sandboxId),
      ...(ports.length > 0 && { ports }),
    };
    await this.#save(a);
    try {
      await ensureBridge(this.bridge, this.subnet);
      a.result = await this.cni.ipam('ADD', this.#tapCall(sandboxId));
      await makeTap(a.tap!, this.bridge);
      // Published ports: portmap's DNAT to the lease, as for a veth (it needs only the address
      // from the previous result, never the namespace).
      if (ports.length > 0)
        await this.cni.runPlugin('ADD', 'portmap', this.#tapCall(sandboxId, ports), a.result);
      await this.#save(a);
      const out = this.#tapAttachment(a);
      const attachMs = Math.round((performance.now() - t0) * 10) / 10;
      this.log.info(
        { sandbox: sandboxId, address: out.address, tap: out.tap, attachMs },
        'pod VM attached to the bridge',
      );
      return out;
    } catch (e) {
      await this.detach(sandboxId).catch((err: Error) =>
        this.log.warn({ sandbox: sandboxId, err: err.message }, 'cleanup after a failed attach'),
      );
      throw e;
    }
  }

  #tapCall(sandboxId: string, ports?: PortMapping[]): CniCall {
    // host-local and portmap want a namespace though they never enter it: the VCH's own (the
    // tap's).
    return {
      containerId: sandboxId,
      netns: `/proc/${process.pid}/ns/net`,
      ifname: POD_IFNAME,
      ...(ports && { args: { portMappings: ports } }),
    };
  }

  #tapAttachment(a: Attachment): TapAttachment {
    const ep = endpointOf(a.result!, POD_IFNAME);
    return { tap: a.tap!, mac: macOf(ep.address), address: ep.address, gateway: ep.gateway };
  }

  async detach(sandboxId: string): Promise<void> {
    const a = this.#attachments.get(sandboxId);
    if (!a) return;
    if (a.tap) return this.#detachTap(a);
    const t0 = performance.now();
    const pinned = await isMounted(a.netns);
    await this.#cniFor(a.ports).del(
      {
        containerId: sandboxId,
        netns: pinned ? a.netns : '',
        ifname: POD_IFNAME,
        args: { portMappings: a.ports ?? [] },
      },
      a.result,
    );
    if (pinned) await run('umount', [a.netns]).catch(() => run('umount', ['-l', a.netns]));
    await rm(a.netns, { force: true });
    await rm(this.#recordPath(sandboxId), { force: true });
    this.#attachments.delete(sandboxId);
    const detachMs = Math.round((performance.now() - t0) * 10) / 10;
    this.log.info({ sandbox: sandboxId, detachMs }, 'detached from the bridge');
  }

  async #detachTap(a: Attachment): Promise<void> {
    if (a.ports?.length)
      await this.cni.runPlugin('DEL', 'portmap', this.#tapCall(a.id, a.ports), a.result);
    await deleteTap(a.tap!);
    await this.cni.ipam('DEL', this.#tapCall(a.id));
    await rm(this.#recordPath(a.id), { force: true });
    this.#attachments.delete(a.id);
    this.log.info({ sandbox: a.id, tap: a.tap }, 'pod VM detached from the bridge');
  }

  /** After a restart: detaches every sandbox the runtime no longer has. */
  async reconcile(liveSandboxes: ReadonlySet<string>): Promise<void> {
    for (const id of [...this.#attachments.keys()]) {
      if (liveSandboxes.has(id)) continue;
      this.log.warn({ sandbox: id }, 'attachment of a sandbox that is gone; releasing it');
      await this.detach(id).catch((e: Error) =>
        this.log.warn({ sandbox: id, err: e.message }, 'cannot release'),
      );
    }
  }

  #recordPath(id: string): string {
    return join(this.dir, 'attachments', `${id}.json`);
  }

  async #save(a: Attachment): Promise<void> {
    await writeJsonAtomic(this.#recordPath(a.id), a);
    this.#attachments.set(a.id, a);
  }
}

/** A tap the record names but the namespace lost (it is persistent; only a reboot loses it). */
async function makeTapIfGone(tap: string, bridge: string): Promise<void> {
  const there = await run('ip', ['link', 'show', 'dev', tap]).then(
    () => true,
    () => false,
  );
  if (!there) await makeTap(tap, bridge);
}

async function readAttachments(dir: string): Promise<Attachment[]> {
  const out: Attachment[] = [];
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!f.endsWith('.json')) continue;
    const a = await readJson<Attachment>(join(dir, f));
    if (a && a.id === f.slice(0, -5) && typeof a.netns === 'string') out.push(a);
  }
  return out;
}
