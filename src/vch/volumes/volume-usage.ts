// What a local volume's content takes (du's allocated bytes and inodes) and the room of the
// filesystem it is on (its own tmpfs for a memory volume), for GetVolume, `docker volume
// inspect`, the sizeLimit check and the node's Summary. A volume is container-writable: the walk
// is runtime/stats' capped lstat walk (no link followed, at most `limit` entries, past which the
// figure is a lower bound). And as the kubelet serves volume stats from a cache its background
// walks keep, callers get the last figure at once while one walk at a time refreshes it: a
// volume is walked again only `maxAgeMs` after its last walk ended, or four times as long as
// that walk took, so an emptyDir holding millions of files slows no poll, and its walks take at
// most a fifth of a core. Only a volume's first ask (or one after forget) waits for its walk,
// and `firstFigure` waits a bounded time for it (no figure yet: undefined).
import { lstat } from 'node:fs/promises';
import { fsUsage, treeUsage, WALK_LIMIT } from '../../runtime/stats/disk-usage.js';
import type { FsUsage } from '../../runtime/stats/types.js';

/** How long one walk's figure serves at least (ms). */
export const USAGE_MAX_AGE_MS = 5_000;

interface Entry {
  usage?: FsUsage;
  /** When a new walk may start (ms). */
  staleAt: number;
  walking?: Promise<FsUsage>;
}

export class VolumeUsage {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly o: { limit?: number; maxAgeMs?: number; now?: () => number } = {}) {}

  /** The usage of the tree at `path` (a volume's content): the last figure, refreshed behind. */
  of(name: string, path: string): Promise<FsUsage> {
    const now = this.o.now ?? Date.now;
    let e = this.#entries.get(name);
    if (!e) {
      e = { staleAt: 0 };
      this.#entries.set(name, e);
    }
    const entry = e;
    if (!entry.walking && now() >= entry.staleAt) {
      const started = now();
      entry.walking = contentUsage(path, this.o.limit ?? WALK_LIMIT).then(
        (usage) => {
          const took = now() - started;
          entry.usage = usage;
          entry.staleAt = now() + Math.max(this.o.maxAgeMs ?? USAGE_MAX_AGE_MS, 4 * took);
          entry.walking = undefined;
          return usage;
        },
        (err: unknown) => {
          // Not kept: the next ask walks again.
          entry.walking = undefined;
          throw err;
        },
      );
      // A refresh nobody waits for fails quietly (the last figure stays).
      if (entry.usage) entry.walking.catch(() => {});
    }
    return entry.usage ? Promise.resolve(entry.usage) : entry.walking!;
  }

  /** As `of`, but without a figure yet, waits at most `waitMs` for the first walk. */
  async firstFigure(name: string, path: string, waitMs: number): Promise<FsUsage | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), waitMs);
    });
    try {
      return await Promise.race([this.of(name, path), late]);
    } finally {
      clearTimeout(timer);
    }
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
