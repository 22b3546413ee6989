// Snapshots: the unpacked rootfs of a stack of layers, named by the stack's ChainID, under
// <root>/<chain hex>/rootfs. A snapshot is its parent's rootfs copied (cp -a, reflinks where
// the file system has them) with one more layer applied — containerd's "native" snapshotter.
// It is built in a temporary directory and renamed into place, so one that exists is whole;
// it is renamed away before it is deleted, for the same reason.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Digest, digestHex } from './digest.js';
import { NotFoundError } from './errors.js';

const run = promisify(execFile);

export class SnapshotStore {
  readonly #building = new Map<Digest, Promise<boolean>>();

  constructor(readonly root: string) {}

  /** The rootfs directory of snapshot `chainId`. */
  rootfs(chainId: Digest): string {
    return join(this.root, digestHex(chainId), 'rootfs');
  }

  async has(chainId: Digest): Promise<boolean> {
    try {
      await stat(join(this.root, digestHex(chainId), 'snapshot.json'));
      return true;
    } catch {
      return false;
    }
  }

  /** The chain ids of the snapshots the store holds (whole ones: temporaries are not listed). */
  async list(): Promise<Digest[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}` as Digest);
  }

  /**
   * Removes snapshot `chainId`. It is renamed out of the way first, so a crash midway leaves
   * a temporary (removed by removeLeftovers), never a snapshot that looks whole but is not.
   * Resolves false if there was none.
   */
  async remove(chainId: Digest): Promise<boolean> {
    const dir = join(this.root, digestHex(chainId));
    const doomed = join(
      this.root,
      `.tmp-rm-${digestHex(chainId)}-${randomBytes(6).toString('hex')}`,
    );
    try {
      await rename(dir, doomed);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    await rm(doomed, { recursive: true, force: true });
    return true;
  }

  /** Removes what interrupted builds and removals left. Only while no snapshot is being built. */
  async removeLeftovers(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
    const left = names.filter((n) => n.startsWith('.tmp-'));
    for (const n of left) await rm(join(this.root, n), { recursive: true, force: true });
    return left.length;
  }

  /**
   * Makes sure snapshot `chainId` exists: a copy of `parent` (none for the bottom layer) with
   * `apply` run on it. Resolves true if it was built now (or by a concurrent call it
   * joined), false if it already existed. Concurrent calls for one chainId share the work.
   */
  ensure(
    chainId: Digest,
    parent: Digest | undefined,
    apply: (rootfs: string) => Promise<void>,
  ): Promise<boolean> {
    let p = this.#building.get(chainId);
    if (!p) {
      p = (async () => {
        if (await this.has(chainId)) return false;
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
    apply: (rootfs: string) => Promise<void>,
  ): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const tmp = join(this.root, `.tmp-${digestHex(chainId)}-${randomBytes(6).toString('hex')}`);
    const rootfs = join(tmp, 'rootfs');
    try {
      await mkdir(tmp);
      if (parent !== undefined) {
        if (!(await this.has(parent)))
          throw new NotFoundError(`parent snapshot ${parent} of ${chainId} does not exist`);
        await run('cp', ['-a', '--reflink=auto', this.rootfs(parent), rootfs]);
      } else {
        await mkdir(rootfs, { mode: 0o755 });
      }
      await apply(rootfs);
      await writeFile(
        join(tmp, 'snapshot.json'),
        `${JSON.stringify({ chainId, parent: parent ?? null, created: new Date().toISOString() })}\n`,
      );
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
}
