// The snapshots an older version made: <state>/images/snapshots/<chain hex>/rootfs, each a whole
// copy of its parent with one more layer applied. The store moved to <state>/images/layers
// (snapshot-store.ts), whose directory name is its version: images already in the index are
// unpacked there again from their blobs the first time a container needs them
// (ImageStore.layerDirs), and nothing new is written here. What stays is read only, for the
// containers created before the move, whose specs name these rootfs directories; garbage
// collection removes each one no such container uses any more, then the directory itself.
import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, digestHex } from './digest.js';

export class LegacySnapshots {
  constructor(readonly root: string) {}

  /** The rootfs of legacy snapshot `chainId` (whole: every layer up to it applied). */
  rootfs(chainId: Digest): string {
    return join(this.root, digestHex(chainId), 'rootfs');
  }

  async list(): Promise<Digest[]> {
    return (await this.#names())
      .filter((n) => /^[0-9a-f]{64}$/.test(n))
      .map((n) => `sha256:${n}` as Digest);
  }

  /**
   * Removes the snapshots not in `keep` (renamed away first, so none looks whole that is not),
   * what interrupted removals left, and the directory once it is empty. Returns how many.
   */
  async removeAllBut(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const n of await this.#names()) {
      if (n.startsWith('.tmp-')) {
        await rm(join(this.root, n), { recursive: true, force: true });
        continue;
      }
      if (!/^[0-9a-f]{64}$/.test(n) || keep.has(`sha256:${n}`)) continue;
      const doomed = join(this.root, `.tmp-rm-${n}-${randomBytes(6).toString('hex')}`);
      await rename(join(this.root, n), doomed);
      await rm(doomed, { recursive: true, force: true });
      removed++;
    }
    await rmdir(this.root).catch(() => {}); // only if empty; gone or not, nothing to do
    return removed;
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
