// Small file-system helpers shared by the stores: atomic replacement of a file.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A fresh temporary name next to `path` (same file system, so rename is atomic). */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.tmp-${basename(path)}-${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to `path` so that readers see the old or the new content, never a mix. */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = tempNameFor(path);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
