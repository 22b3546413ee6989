// The VCH's volumes (VIC's volume store, driver "local" and "bind"), kept in the database:
//
//   <state>/volumes/<name>/          mode 0700: no other user of the host reaches inside
//   <state>/volumes/<name>/_data     a local volume's content (what containers get); for
//                                    medium "memory" a tmpfs mounted here (size=sizeLimit), so
//                                    its content (secrets) never touches the disk
//
// A tmpfs stays mounted while the VCH process restarts (its content survives); after a host
// reboot it is gone, and reconcile() mounts an empty one again. A bind volume is a host path,
// checked by its hostPath type at create. A volume mounted by any container the VCH has (running
// or not) is in use and cannot be removed; an ephemeral one goes with its owner pod.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isMounted } from '../../runtime/core/rootfs.js';
import { conflict, invalidInput, notFound, unavailable } from '../errors.js';
import type { PodRow } from '../db.js';
import { type VchContext, nowIso } from '../services/context.js';
import { type Owner, type PayloadFile, writeAtomically } from './atomic-writer.js';
import { checkHostPath } from './host-path.js';
import type { CreateVolumeRequest, VolumeInfo, VolumeRecord } from './volume-types.js';
import { isOrphan, ORPHAN_AGE_MS, type PruneFilter, prunes } from './volume-prune.js';
import { VolumeUsage } from './volume-usage.js';
import { execCommand as run } from '../../spawn/run-command.js';

export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/** How long an inspect waits for a volume's first usage walk (ms). */
const FIRST_USAGE_WAIT_MS = 2_000;
/** The pod label that holds a portlayer container's id (portlayer/directory.ts). */
const PORTLAYER_ID_LABEL = 'vic.portlayer.id';

const LOCAL_ARGS = ['medium', 'sizeLimit', 'uid', 'gid', 'pod', 'ephemeral'];
const BIND_ARGS = ['path', 'type', 'pod', 'ephemeral'];

function idArg(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,10}$/.test(v) || Number(v) > 0xfffffffe)
    throw invalidInput(`${what} ${JSON.stringify(v)} is not a uid/gid`);
  return Number(v);
}

export class VolumeService {
  private readonly stmt;
  /** Capped, briefly cached walks of the local volumes' content (volume-usage.ts). */
  readonly usage = new VolumeUsage();

  constructor(private readonly ctx: VchContext) {
    const db = ctx.db;
    this.stmt = {
      insert: db.statement('INSERT INTO volumes (name, record, owner) VALUES (?, ?, ?)'),
      get: db.statement('SELECT record FROM volumes WHERE name = ?'),
      all: db.statement('SELECT record FROM volumes ORDER BY name'),
      owned: db.statement('SELECT record FROM volumes WHERE owner = ?'),
      delete: db.statement('DELETE FROM volumes WHERE name = ?'),
    };
  }

  private get root(): string {
    return join(this.ctx.stateDir, 'volumes');
  }

  private record(name: string): VolumeRecord | undefined {
    const row = this.stmt.get.get(name) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as VolumeRecord) : undefined;
  }

  /** The volume; NotFound when there is none. */
  get(name: string): VolumeRecord {
    const r = this.record(name);
    if (!r) throw notFound(`no such volume: ${name}`);
    return r;
  }

  async create(req: CreateVolumeRequest): Promise<VolumeInfo> {
    this.ctx.ensureOpen();
    if (typeof req.name !== 'string' || !VOLUME_NAME.test(req.name))
      throw invalidInput(
        `volume name ${JSON.stringify(req.name)} is not [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}`,
      );
    const args = req.driverArgs ?? {};
    const known = req.driver === 'local' ? LOCAL_ARGS : req.driver === 'bind' ? BIND_ARGS : [];
    if (known.length === 0)
      throw invalidInput(`volume driver ${JSON.stringify(req.driver)} is not "local" or "bind"`);
    for (const k of Object.keys(args))
      if (!known.includes(k))
        throw invalidInput(`driver ${req.driver} takes no option ${JSON.stringify(k)}`);
    if (this.record(req.name)) throw conflict(`volume ${req.name} already exists`);
    await this.sweepOrphans();
    const ephemeral = args.ephemeral === 'true';
    if (args.ephemeral !== undefined && !['true', 'false'].includes(args.ephemeral))
      throw invalidInput(`ephemeral ${JSON.stringify(args.ephemeral)} is not "true" or "false"`);
    if (ephemeral && !args.pod) throw invalidInput('an ephemeral volume needs its pod');
    const capacityBytes = req.capacityBytes ?? -1;
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < -1)
      throw invalidInput(`capacity ${capacityBytes} is not a number of bytes (or -1)`);
    const rec: VolumeRecord = {
      name: req.name,
      driver: req.driver,
      path: '',
      driverArgs: args,
      capacityBytes,
      metadata: req.metadata ?? {},
      ...(args.pod && { owner: args.pod }),
      ephemeral,
      created: nowIso(),
    };
    if (req.driver === 'bind') {
      if (!args.path) throw invalidInput('a bind volume needs its host path (path)');
      await checkHostPath(args.path, args.type ?? '');
      rec.path = args.path;
    } else {
      const medium = args.medium ?? 'disk';
      if (medium !== 'disk' && medium !== 'memory')
        throw invalidInput(`medium ${JSON.stringify(medium)} is not "disk" or "memory"`);
      rec.medium = medium;
      if (args.sizeLimit !== undefined) {
        if (!/^\d{1,16}$/.test(args.sizeLimit) || Number(args.sizeLimit) <= 0)
          throw invalidInput(
            `sizeLimit ${JSON.stringify(args.sizeLimit)} is not a number of bytes`,
          );
        rec.sizeLimitBytes = Number(args.sizeLimit);
      }
      idArg(args.uid, 'uid');
      idArg(args.gid, 'gid');
      rec.path = join(this.root, req.name, '_data');
      await this.makeLocal(rec);
    }
    try {
      this.stmt.insert.run(rec.name, JSON.stringify(rec), rec.owner ?? null);
    } catch (e) {
      if (rec.driver === 'local') await this.removeLocal(rec).catch(() => {});
      if (this.record(req.name)) throw conflict(`volume ${req.name} already exists`);
      throw e;
    }
    this.ctx.log.info(
      { volume: rec.name, driver: rec.driver, medium: rec.medium },
      'volume created',
    );
    return { ...rec, usedBy: [] };
  }

  /** A local volume's directory (and tmpfs): made, or made again after a reboot. */
  private async makeLocal(rec: VolumeRecord): Promise<void> {
    const dir = join(this.root, rec.name);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await mkdir(rec.path, { recursive: true });
    const gid = idArg(rec.driverArgs.gid, 'gid');
    const uid = idArg(rec.driverArgs.uid, 'uid');
    // As the kubelet's emptyDir: anyone may write; with an fsGroup, group-owned and setgid.
    const mode = gid !== undefined ? '2777' : '777';
    if (rec.medium === 'memory' && !(await isMounted(rec.path))) {
      const size = rec.sizeLimitBytes ?? (rec.capacityBytes > 0 ? rec.capacityBytes : undefined);
      const opts = ['nosuid', 'nodev', `mode=${mode}`, ...(size ? [`size=${size}`] : [])];
      await run('mount', ['-t', 'tmpfs', '-o', opts.join(','), 'tmpfs', rec.path]).catch(
        (e: { stderr?: string; message: string }) => {
          throw unavailable(
            `cannot mount the tmpfs of volume ${rec.name}: ${(e.stderr ?? e.message).trim()}`,
          );
        },
      );
    } else {
      await run('chmod', [mode, rec.path]);
    }
    if (uid !== undefined || gid !== undefined)
      await run('chown', [`${uid ?? ''}:${gid ?? ''}`, rec.path]);
  }

  private async removeLocal(rec: VolumeRecord): Promise<void> {
    if (await isMounted(rec.path)) {
      await run('umount', [rec.path]).catch(() => run('umount', ['-l', rec.path]).catch(() => {}));
      if (await isMounted(rec.path)) throw unavailable(`cannot unmount volume ${rec.name}`);
    }
    await rm(join(this.root, rec.name), { recursive: true, force: true });
  }

  /** The containers whose mounts name the volume. */
  usersOf(name: string): string[] {
    return this.ctx.db
      .containers()
      .filter((c) => (c.config.mounts ?? []).some((m) => m.type === 'volume' && m.source === name))
      .map((c) => c.id);
  }

  async inspect(name: string, withUsage = true): Promise<VolumeInfo> {
    const rec = this.get(name);
    const info: VolumeInfo = { ...rec, usedBy: this.usersOf(name) };
    if (withUsage && rec.driver === 'local') {
      // A huge volume's first walk answers later (volume-usage.ts); this answer goes without.
      info.usage = await this.usage.firstFigure(rec.name, rec.path, FIRST_USAGE_WAIT_MS);
      if (info.usage) info.usageBytes = info.usage.usedBytes;
    }
    return info;
  }

  list(): VolumeInfo[] {
    return (this.stmt.all.all() as { record: string }[]).map((r) => {
      const rec = JSON.parse(r.record) as VolumeRecord;
      return { ...rec, usedBy: this.usersOf(rec.name) };
    });
  }

  /** Removes a volume no container mounts (Conflict otherwise): its content too, if local. */
  async remove(name: string): Promise<void> {
    const rec = this.get(name);
    const users = this.usersOf(name);
    if (users.length > 0)
      throw conflict(`volume is in use - [${users.map((u) => u.slice(0, 12)).join(', ')}]`);
    if (rec.driver === 'local') await this.removeLocal(rec);
    this.stmt.delete.run(name);
    this.usage.forget(name);
    this.ctx.log.info({ volume: name }, 'volume removed');
  }

  /** Removes the ephemeral volumes of a pod that is gone (by its core and portlayer ids). */
  async removeOwnedBy(pod: Pick<PodRow, 'id' | 'labels'>): Promise<void> {
    const owners = [pod.id, pod.labels[PORTLAYER_ID_LABEL]].filter((x): x is string => !!x);
    for (const owner of owners)
      for (const r of this.stmt.owned.all(owner) as { record: string }[]) {
        const rec = JSON.parse(r.record) as VolumeRecord;
        if (!rec.ephemeral) continue;
        await this.remove(rec.name).catch((e: Error) =>
          this.ctx.log.warn({ volume: rec.name, err: e.message }, 'ephemeral volume not removed'),
        );
      }
  }

  /**
   * `docker volume prune`: removes the volumes `filter` picks (volume-prune.ts); their names and
   * the bytes their content took.
   */
  async prune(filter: PruneFilter): Promise<{ removed: string[]; bytes: number }> {
    const out = { removed: [] as string[], bytes: 0 };
    for (const v of this.list()) {
      if (!prunes(v, filter)) continue;
      this.usage.forget(v.name);
      const bytes = v.driver === 'local' ? (await this.usage.of(v.name, v.path)).usedBytes : 0;
      try {
        await this.remove(v.name);
      } catch (e) {
        // Mounted meanwhile: not pruned.
        this.ctx.log.warn({ volume: v.name, err: (e as Error).message }, 'volume not pruned');
        continue;
      }
      out.removed.push(v.name);
      out.bytes += bytes;
    }
    return out;
  }

  /**
   * Removes the ephemeral volumes whose pod never came to be, made before `before` (ms)
   * (volume-prune.ts): at open, all of them; at a create, those older than ORPHAN_AGE_MS, at
   * most once a minute.
   */
  async removeOrphans(before: number): Promise<string[]> {
    const pods = new Set<string>();
    for (const p of this.ctx.db.pods()) {
      pods.add(p.id);
      if (p.labels[PORTLAYER_ID_LABEL]) pods.add(p.labels[PORTLAYER_ID_LABEL]);
    }
    const removed: string[] = [];
    for (const v of this.list()) {
      if (!isOrphan(v, pods, before)) continue;
      await this.remove(v.name).then(
        () => removed.push(v.name),
        (e: Error) => this.ctx.log.warn({ volume: v.name, err: e.message }, 'orphan not removed'),
      );
    }
    if (removed.length) this.ctx.log.info({ volumes: removed }, 'orphaned pod volumes removed');
    return removed;
  }

  private lastSweep = 0;

  private async sweepOrphans(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    await this.removeOrphans(now - ORPHAN_AGE_MS);
  }

  /** Replaces a local volume's content atomically (atomic-writer.ts). */
  async writeFiles(name: string, files: readonly PayloadFile[], owner: Owner = {}): Promise<void> {
    const rec = this.get(name);
    if (rec.driver !== 'local') throw invalidInput(`volume ${name} is not a local volume`);
    await writeAtomically(rec.path, files, owner);
    this.usage.forget(name);
  }

  /**
   * After the VCH opens: every local volume's directory is there, and every memory volume's
   * tmpfs mounted (a VCH restart leaves them as they were; a host reboot empties them).
   */
  async reconcile(): Promise<void> {
    for (const v of this.list()) {
      if (v.driver !== 'local') continue;
      if (v.medium === 'memory' && !(await isMounted(v.path)))
        this.ctx.log.warn({ volume: v.name }, 'memory volume lost its content (host reboot)');
      await this.makeLocal(v).catch((e: Error) =>
        this.ctx.log.error({ volume: v.name, err: e.message }, 'volume not restored'),
      );
    }
  }
}
