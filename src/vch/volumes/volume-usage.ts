// What a local volume's content takes (du's allocated bytes and inodes) and the room of the
// filesystem it is on (its own tmpfs for a memory volume), for GetVolume, `docker volume
// inspect`, the sizeLimit check and the node's Summary. A volume is container-writable: the walk
// is runtime/stats' capped lstat walk (no link followed, at most `limit` entries, past which the
// figure is a lower bound), and one volume is walked at most once per `maxAgeMs`: callers that
// ask meanwhile (a stats poll, the sizeLimit poll, an inspect) share the last figure or the walk
// under way, so an emptyDir holding millions of files costs one bounded walk per period.
import { lstat } from 'node:fs/promises';
import { fsUsage, treeUsage, WALK_LIMIT } from '../../runtime/stats/disk-usage.js';
import type { FsUsage } from '../../runtime/stats/types.js';

/** How long one walk's figure serves (ms). */
export const USAGE_MAX_AGE_MS = 5_000;

interface Entry {
  at: number;
  usage: Promise<FsUsage>;
}

export class VolumeUsage {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly o: { limit?: number; maxAgeMs?: number; now?: () => number } = {}) {}

  /** The usage of the tree at `path` (a volume's content), at most maxAgeMs old. */
  of(name: string, path: string): Promise<FsUsage> {
    const now = (this.o.now ?? Date.now)();
    const have = this.#entries.get(name);
    if (have && now - have.at < (this.o.maxAgeMs ?? USAGE_MAX_AGE_MS)) return have.usage;
    const usage = contentUsage(path, this.o.limit ?? WALK_LIMIT);
    const entry = { at: now, usage };
    this.#entries.set(name, entry);
    // A failed walk is not kept.
    usage.catch(() => {
      if (this.#entries.get(name) === entry) this.#entries.delete(name);
    });
    return usage;
  }

  /** Forgets a volume (removed, or its content replaced wholesale). */
  forget(name: string): void {
    this.#entries.delete(name);
  }
}

/** The tree under `path`, the directory itself left out (an empty volume takes 0 bytes). */
async function contentUsage(path: string, limit: number): Promise<FsUsage> {
  const root = await lstat(path).catch(() => undefined);
  if (!root?.isDirectory()) return fsUsage({ bytes: 0, inodes: 0 }, path);
  const tree = await treeUsage([path], limit + 1);
  const bytes = Math.max(0, tree.bytes - root.blocks * 512);
  return fsUsage({ bytes, inodes: Math.max(0, tree.inodes - 1) }, path);
}
