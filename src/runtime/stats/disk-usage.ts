// What a directory tree holds on disk (du's allocated bytes and its inode count) and the room of
// the filesystem it is on. Used for a container's writable layer and its log files. A container
// can fill its layer with links and millions of files: nothing is followed (lstat only, no
// opens), and the walk stops at a cap of entries rather than run without bound.
import { lstat, opendir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { FsUsage } from './types.js';

/** Entries one walk visits at most; past it the figure is a lower bound. */
export const WALK_LIMIT = 200_000;

export interface TreeUsage {
  bytes: number;
  inodes: number;
}

/** The allocated bytes and inodes of `paths` and everything under them; missing ones count 0. */
export async function treeUsage(paths: string[], limit = WALK_LIMIT): Promise<TreeUsage> {
  const out = { bytes: 0, inodes: 0 };
  const stack = [...paths];
  const seen = new Set<string>();
  while (stack.length > 0 && out.inodes < limit) {
    const p = stack.pop()!;
    const st = await lstat(p, { bigint: true }).catch(() => undefined);
    if (!st) continue;
    // Hard links count once, as du counts them.
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1n) {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.inodes += 1;
    out.bytes += Number(st.blocks) * 512;
    if (!st.isDirectory()) continue;
    const dir = await opendir(p).catch(() => undefined);
    if (!dir) continue;
    for await (const e of dir) {
      stack.push(join(p, e.name));
      if (out.inodes + stack.length >= limit) break; // closes the directory
    }
  }
  return out;
}

/** `tree` as FsUsage, with the room of the filesystem `at` is on. */
export async function fsUsage(tree: TreeUsage, at: string): Promise<FsUsage> {
  const s = await statfs(at).catch(() => undefined);
  return {
    usedBytes: tree.bytes,
    inodesUsed: tree.inodes,
    capacityBytes: s ? s.blocks * s.bsize : 0,
    availableBytes: s ? s.bavail * s.bsize : 0,
    inodes: s?.files ?? 0,
    inodesFree: s?.ffree ?? 0,
  };
}
