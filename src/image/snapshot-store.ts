// Snapshots that share layers: one per layer, named by the ChainID of the stack it tops, under
// <root>/<chain hex>/{diff/, snapshot.json}. `diff` holds that layer's diff alone, in overlayfs's
// format (unpack.ts, overlay-diff.ts), and snapshot.json names the parent snapshot; a
// container's rootfs stacks the diffs of a chain as overlay lower directories (lowerdir=top:…:
// bottom, runtime/core/rootfs.ts), so a layer is on disk once whatever number of images and
// containers share it — containerd's overlay snapshotter, where the earlier store copied the
// parent's whole rootfs into each snapshot.
//
// Each snapshot also has a short name, <root>/l/<20 hex digits of the chain id> → ../<hex>/diff,
// as Docker's overlay2 has: the kernel takes one page of mount options, and with the short
// names relative to <root>/l a stack of a couple of hundred layers fits in it.
//
// A snapshot is built in a temporary directory and renamed into place, so one that exists is
// whole; it is renamed away before it is deleted, for the same reason.
import { randomBytes } from 'node:crypto';
import {
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, digestHex, isDigest } from './digest.js';
import { ConflictError, NotFoundError } from './errors.js';

const linkDir = 'l';
const shortLength = 20;

export class SnapshotStore {
  readonly #building = new Map<Digest, Promise<boolean>>();

  constructor(readonly root: string) {}

  /** The diff directory of snapshot `chainId` (its own layer only). */
  diff(chainId: Digest): string {
    return join(this.root, digestHex(chainId), 'diff');
  }

  /** The short name of snapshot `chainId`'s diff directory: a link in <root>/l. */
  link(chainId: Digest): string {
    return join(this.root, linkDir, digestHex(chainId).slice(0, shortLength));
  }

  async has(chainId: Digest): Promise<boolean> {
    try {
      await stat(join(this.root, digestHex(chainId), 'snapshot.json'));
      return true;
    } catch {
      return false;
    }
  }

  /** The parent of snapshot `chainId` (undefined for a bottom layer); NotFound if none. */
  async parent(chainId: Digest): Promise<Digest | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.root, digestHex(chainId), 'snapshot.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new NotFoundError(`snapshot ${chainId} does not exist`);
      throw e;
    }
    const parent = (JSON.parse(text) as { parent?: unknown }).parent;
    return typeof parent === 'string' && isDigest(parent) ? parent : undefined;
  }

  /** `chainId` and the snapshots below it, top first: what a rootfs on it needs. */
  async stack(chainId: Digest): Promise<Digest[]> {
    const out: Digest[] = [];
    for (let c: Digest | undefined = chainId; c !== undefined; c = await this.parent(c)) {
      if (out.includes(c)) throw new ConflictError(`snapshot ${chainId} has a parent loop`);
      out.push(c);
    }
    return out;
  }

  /** The chain ids of the snapshots the store holds (whole ones: temporaries are not listed). */
  async list(): Promise<Digest[]> {
    return (await this.#names()).filter(isHexName).map((n) => `sha256:${n}` as Digest);
  }

  /**
   * Removes snapshot `chainId`. It is renamed out of the way first, so a crash midway leaves
   * a temporary (removed by removeLeftovers), never a snapshot that looks whole but is not.
   * Resolves false if there was none.
   */
  async remove(chainId: Digest): Promise<boolean> {
    const dir = join(this.root, digestHex(chainId));
    const doomed = join(this.root, `.tmp-rm-${digestHex(chainId)}-${randomHex()}`);
    await rm(this.link(chainId), { force: true });
    try {
      await rename(dir, doomed);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    await rm(doomed, { recursive: true, force: true });
    return true;
  }

  /**
   * Removes what interrupted builds and removals left: temporaries and short names whose
   * snapshot is gone. Only while no snapshot is being built.
   */
  async removeLeftovers(): Promise<number> {
    const left = (await this.#names()).filter((n) => n.startsWith('.tmp-'));
    for (const n of left) await rm(join(this.root, n), { recursive: true, force: true });
    let links: string[] = [];
    try {
      links = await readdir(join(this.root, linkDir));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    let dangling = 0;
    for (const n of links) {
      const path = join(this.root, linkDir, n);
      const exists = await stat(path).then(
        () => true,
        () => false,
      );
      if (!exists) {
        await rm(path, { force: true });
        dangling++;
      }
    }
    return left.length + dangling;
  }

  /**
   * Makes sure snapshot `chainId` exists: `apply` run on an empty diff directory, given the
   * diff directories of the snapshots below (`parent` and its parents, top first; none for a
   * bottom layer) to read. Resolves true if it was built now (or by a concurrent call it
   * joined), false if it already existed. Concurrent calls for one chainId share the work.
   */
  ensure(
    chainId: Digest,
    parent: Digest | undefined,
    apply: (diff: string, lowers: string[]) => Promise<void>,
  ): Promise<boolean> {
    let p = this.#building.get(chainId);
    if (!p) {
      p = (async () => {
        if (await this.has(chainId)) {
          await this.#link(chainId);
          return false;
        }
        await this.#build(chainId, parent, apply);
        return true;
      })();
      this.#building.set(chainId, p);
      const forget = () => this.#building.delete(chainId);
      p.then(forget, forget);
    }
    return p;
  }

  async #build(
    chainId: Digest,
    parent: Digest | undefined,
    apply: (diff: string, lowers: string[]) => Promise<void>,
  ): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const tmp = join(this.root, `.tmp-${digestHex(chainId)}-${randomHex()}`);
    try {
      let lowers: string[] = [];
      if (parent !== undefined) {
        if (!(await this.has(parent)))
          throw new NotFoundError(`parent snapshot ${parent} of ${chainId} does not exist`);
        lowers = (await this.stack(parent)).map((c) => this.diff(c));
      }
      await mkdir(tmp);
      await mkdir(join(tmp, 'diff'), { mode: 0o755 });
      await apply(join(tmp, 'diff'), lowers);
      await writeFile(
        join(tmp, 'snapshot.json'),
        `${JSON.stringify({ chainId, parent: parent ?? null, created: new Date().toISOString() })}\n`,
      );
      // The short name first (dangling until the rename): a snapshot never lacks it.
      await this.#link(chainId);
      try {
        await rename(tmp, join(this.root, digestHex(chainId)));
      } catch (e) {
        // Another process finished the same snapshot first: theirs is as good as ours.
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        await rm(tmp, { recursive: true, force: true });
      }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Makes the short name of `chainId`; Conflict if another snapshot has it. */
  async #link(chainId: Digest): Promise<void> {
    const path = this.link(chainId);
    const target = join('..', digestHex(chainId), 'diff');
    await mkdir(join(this.root, linkDir), { recursive: true });
    try {
      await symlink(target, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const have = await readlink(path);
      if (have !== target)
        throw new ConflictError(
          `snapshot ${chainId}: its short name ${path} belongs to another snapshot (${have})`,
        );
    }
  }

  async #names(): Promise<string[]> {
    try {
      return await readdir(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}

const isHexName = (n: string) => /^[0-9a-f]{64}$/.test(n);
const randomHex = () => randomBytes(6).toString('hex');
