// The runc backend's sandboxes: a pod's pause process (the tether in --pause mode) holding its
// network, IPC and UTS namespaces, with the pod's /etc/hostname, /etc/hosts, resolv.conf and
// /dev/shm (a tmpfs) beside it. Containers join its namespaces (runc-runtime.ts).
import { constants } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { access, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { notFound, unavailable } from '../errors.js';
import { readJson, writeJsonAtomic } from '../core/files.js';
import type { KeyedLock } from '../core/keyed-lock.js';
import { bootId, identify, isAlive, type ProcessIdentity } from '../core/proc.js';
import { isMounted } from '../core/rootfs.js';
import { sleep } from '../core/time.js';
import { checkSysctls } from '../sysctls.js';
import type { SandboxAddress, SandboxNetwork, SandboxSpec } from '../runtime.js';
import { pauseId, type Layout } from './layout.js';
import { hostsFile, resolvConfFile } from '../core/etc-files.js';
import { sandboxConfig, TETHER_IN_CONTAINER } from './oci-config.js';
import type { Runc } from './runc-cli.js';
import { execCommand as run } from '../../spawn/run-command.js';

interface SandboxRecord {
  id: string;
  spec: SandboxSpec;
  pause?: ProcessIdentity;
  bootId?: string;
}

/** A sandbox's attachment to the VCH's network while it is under way (or failed). */
interface Attaching {
  done: Promise<void>;
  failed?: boolean;
}

export class RuncSandboxes {
  private readonly records = new Map<string, SandboxRecord>();
  private readonly boot = bootId();
  /**
   * CNI ADDs under way, by sandbox. The ADD (bridge, host-local, firewall and portmap processes)
   * runs beside the work of a container's start (its rootfs, mounts, bundle), off the pod's
   * critical path; the container's process is started once it is done (networkReady()).
   */
  private readonly attaching = new Map<string, Attaching>();

  constructor(
    private readonly layout: Layout,
    private readonly runc: Runc,
    private readonly tether: string,
    private readonly lock: KeyedLock,
    private readonly log: Logger,
    /** The VCH's network; absent, a sandbox has loopback only. */
    private readonly network?: SandboxNetwork,
  ) {}

  get ids(): string[] {
    return [...this.records.keys()];
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  spec(id: string): SandboxSpec {
    const rec = this.records.get(id);
    if (!rec) throw notFound(`no such sandbox ${id}`);
    return rec.spec;
  }

  /** Creates the sandbox, or restarts the pause process of an existing one that lost it. */
  async create(spec: SandboxSpec): Promise<void> {
    const existing = this.records.get(spec.id);
    if (existing?.pause && existing.bootId === this.boot && isAlive(existing.pause)) return;
    if (existing) return this.startPause(existing);
    // The record first: a crash from here on leaves a sandbox load() finds, not a pause
    // process nobody knows of. A failure takes everything down again.
    const rec: SandboxRecord = { id: spec.id, spec };
    await mkdir(this.layout.sandbox(spec.id).dir, { recursive: true });
    await writeJsonAtomic(this.layout.sandbox(spec.id).record, rec);
    this.records.set(spec.id, rec);
    try {
      await this.startPause(rec);
    } catch (e) {
      await this.teardown(spec.id).catch((err: Error) =>
        this.log.warn({ sandbox: spec.id, err: err.message }, 'cleanup after failure'),
      );
      throw e;
    }
  }

  /** Kills the pause process, unmounts the pod's shm, deletes the sandbox's directory. */
  async teardown(id: string): Promise<void> {
    const dirs = this.layout.sandbox(id);
    // An ADD under way finishes first (else its veth and lease would come after the DEL).
    await this.attaching.get(id)?.done.catch(() => undefined);
    this.attaching.delete(id);
    // First, while the namespace is there: the address, veth and rules go with it.
    await this.network?.detach(id);
    await this.runc.forget(pauseId(id));
    if (await isMounted(dirs.shm))
      await run('umount', [dirs.shm]).catch(() => run('umount', ['-l', dirs.shm]));
    if (await isMounted(dirs.shm)) throw unavailable(`cannot unmount ${dirs.shm}`);
    await rm(dirs.dir, { recursive: true, force: true });
    this.records.delete(id);
  }

  /**
   * The sandbox's live pause process; a new one when it is gone and `busy` (a container runs
   * in it) is false — with containers running in them, lost namespaces cannot be replaced.
   */
  async livePause(id: string, busy: boolean): Promise<ProcessIdentity> {
    const sb = this.records.get(id);
    if (!sb) throw notFound(`no such sandbox ${id}`);
    if (sb.pause && sb.bootId === this.boot && isAlive(sb.pause)) return sb.pause;
    if (busy) throw unavailable(`sandbox ${id} lost its namespaces while containers run in it`);
    this.log.warn({ sandbox: id }, 'pause process gone; starting a new one');
    await this.lock.run(id, () => this.startPause(sb));
    return sb.pause!;
  }

  /** The sandbox's pause process while it lives (its namespaces are the pod's); else undefined. */
  pauseOf(id: string): ProcessIdentity | undefined {
    const sb = this.records.get(id);
    return sb?.pause && sb.bootId === this.boot && isAlive(sb.pause) ? sb.pause : undefined;
  }

  /** Reads the records on disk; a directory without one is a create cut short: it goes. */
  async load(): Promise<void> {
    await mkdir(this.layout.sandboxesDir, { recursive: true });
    for (const id of await readdir(this.layout.sandboxesDir)) {
      const rec = await readJson<SandboxRecord>(this.layout.sandbox(id).record);
      if (rec && rec.id === id) this.records.set(id, rec);
      else {
        this.log.warn({ sandbox: id }, 'sandbox directory without a record; removing it');
        await this.teardown(id).catch((e: Error) =>
          this.log.warn({ sandbox: id, err: e.message }, 'cannot remove'),
        );
      }
    }
  }

  /** (Re)starts the sandbox's pause process: new namespaces, hostname, shm. */
  private async startPause(rec: SandboxRecord): Promise<void> {
    await access(this.tether, constants.X_OK).catch(() => {
      throw unavailable(`the tether ${this.tether} is missing: run npm run build`);
    });
    const dirs = this.layout.sandbox(rec.id);
    // An attachment of the namespaces this replaces is finished first (one ADD at a time).
    await this.attaching.get(rec.id)?.done.catch(() => undefined);
    for (const d of [dirs.rootfs, dirs.shm, dirs.bundle]) await mkdir(d, { recursive: true });
    if (!(await isMounted(dirs.shm))) {
      const opts = 'nosuid,nodev,noexec,mode=1777,size=65536k';
      await run('mount', ['-t', 'tmpfs', '-o', opts, 'shm', dirs.shm]).catch((e) => {
        throw unavailable(`cannot mount the sandbox's /dev/shm: ${(e as Error).message}`, e);
      });
    }
    // hostNetwork: the node's hostname (the pod shares its UTS namespace too).
    const hostname = rec.spec.hostNetwork ? osHostname() : rec.spec.hostname;
    await writeFile(dirs.hostname, hostname + '\n');
    const names = rec.spec.names;
    await writeFile(dirs.hosts, hostsFile(hostname, undefined, names));
    await writeFile(dirs.resolvConf, await resolvConfFile(names?.dns));
    await writeJsonAtomic(
      `${dirs.bundle}/config.json`,
      sandboxConfig({
        id: rec.id,
        hostname: rec.spec.hostname,
        rootfs: dirs.rootfs,
        tether: this.tether,
        sysctls: checkSysctls(rec.spec.sysctls),
        host: { network: rec.spec.hostNetwork, pid: rec.spec.hostPID, ipc: rec.spec.hostIPC },
      }),
    );
    const rid = pauseId(rec.id);
    await this.runc.forget(rid);
    const pidFile = `${dirs.dir}/pause.pid`;
    await this.runc.runDetached({
      id: rid,
      bundle: dirs.bundle,
      pidFile,
      consoleLog: dirs.runcLog,
    });
    const pause = identify(await readPid(pidFile, dirs.runcLog));
    // runc start reports success before its init has exec'd the tether; an exec that fails
    // (a broken tether) shows only as an init that dies instead of becoming the tether.
    if (!pause || !(await becomes(pause, TETHER_IN_CONTAINER)))
      throw unavailable(`the sandbox's pause process did not start (see ${dirs.runcLog})`);
    rec.pause = pause;
    rec.bootId = this.boot;
    await writeJsonAtomic(dirs.record, rec);
    this.log.info({ sandbox: rec.id, pid: pause.pid }, 'sandbox started');
    // New namespaces: attached to the VCH's network afresh (an earlier attachment goes first),
    // while the caller goes on.
    this.attach(rec, pause);
  }

  /** Starts the attachment of the pause process's namespace; its /etc/hosts names the address. */
  private attach(rec: SandboxRecord, pause: ProcessIdentity): void {
    const network = this.network;
    // hostNetwork: the host's namespace, attached to nothing (its ports are the host's).
    if (!network || rec.spec.hostNetwork) return;
    const done = (async () => {
      const address = await network.attach(rec.id, `/proc/${pause.pid}/ns/net`, rec.spec.ports);
      const hosts = hostsFile(rec.spec.hostname, podIp(address), rec.spec.names);
      await writeFile(this.layout.sandbox(rec.id).hosts, hosts);
    })();
    const entry: Attaching = { done };
    done.catch((e: Error) => {
      entry.failed = true;
      this.log.warn({ sandbox: rec.id, err: e.message }, 'cannot attach to the bridge');
    });
    this.attaching.set(rec.id, entry);
  }

  /** Resolves once an attachment under way has ended, either way. */
  async networkSettled(id: string): Promise<void> {
    await this.attaching.get(id)?.done.catch(() => undefined);
  }

  /**
   * Waits for the sandbox's attachment to the network (a container's process starts only on a
   * network that is there). One that failed is tried again, and its error thrown if it fails.
   */
  async networkReady(id: string): Promise<void> {
    let entry = this.attaching.get(id);
    if (!entry) return;
    if (entry.failed) {
      const rec = this.records.get(id);
      const pause = this.pauseOf(id);
      if (!rec || !pause) throw unavailable(`sandbox ${id} lost its namespaces`);
      this.attach(rec, pause);
      entry = this.attaching.get(id)!;
    }
    await entry.done;
    if (this.attaching.get(id) === entry) this.attaching.delete(id);
  }
}

/** The pod's IP, without its prefix. */
function podIp(a: SandboxAddress): string {
  return a.address.split('/')[0];
}

/** The pid runc wrote to its --pid-file; Unavailable when it wrote none. */
export async function readPid(pidFile: string, log: string): Promise<number> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) throw unavailable(`runc wrote no pid (see ${log})`);
  return pid;
}

/** Whether the process comes to run `argv0` (within 5 s) rather than exit. */
async function becomes(p: ProcessIdentity, argv0: string): Promise<boolean> {
  const until = Date.now() + 5000;
  while (Date.now() < until && isAlive(p)) {
    const cmd = await readFile(`/proc/${p.pid}/cmdline`, 'latin1').catch(() => '');
    if (cmd.split('\0')[0] === argv0) return true;
    await sleep(5);
  }
  return false;
}
