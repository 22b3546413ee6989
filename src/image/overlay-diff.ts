// A layer's snapshot holds only that layer's diff, in overlayfs's own format, so a container's
// rootfs is the layers stacked as overlay lower directories (lowerdir=top:…:bottom) and each
// layer is on disk once, whatever number of images share it. The OCI tar's whiteouts become
// overlay's, as containerd's overlay snapshotter writes them:
// - `.wh.<name>` (delete <name> of the layers below) → a character device 0:0 named <name>;
// - `.wh..wh..opq` (hide what the layers below had in this directory) → the directory gets the
//   `trusted.overlay.opaque=y` extended attribute (setting it needs CAP_SYS_ADMIN: the VCH runs
//   as root, as runc and mount need anyway).
// These whiteout devices are the one kind of device node we make ourselves; one in a layer's
// tar would read as a whiteout, so unpack.ts skips it (a tar says deletions with `.wh.` names).
// runtime/core/layer-copy.ts reads the same format back where overlay cannot be mounted.
import { execFile } from 'node:child_process';
import { type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UnavailableError } from './errors.js';

const run = promisify(execFile);

export const opaqueXattr = 'trusted.overlay.opaque';

/** Whether `st` is an overlay whiteout: a character device with device number 0:0. */
export function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Makes `path` (nothing there) a whiteout: a character device 0:0, mode 0. */
export async function makeWhiteout(path: string): Promise<void> {
  try {
    await run('mknod', ['-m', '000', path, 'c', '0', '0']);
  } catch (e) {
    throw new UnavailableError(`cannot create the overlay whiteout ${path}: ${stderrOf(e)}`);
  }
}

/** Marks directory `path` opaque: overlay shows nothing of the layers below it there. */
export async function markOpaque(path: string): Promise<void> {
  try {
    await run('setfattr', ['-n', opaqueXattr, '-v', 'y', path]);
  } catch (e) {
    throw new UnavailableError(
      `cannot mark ${path} as an opaque overlay directory: ${stderrOf(e)}`,
    );
  }
}

/**
 * What the layers below (their diff directories, top first) hold at `parts`: the first one
 * that has the path, its directory and lstat, or undefined. Only real directories are walked
 * on the way (a symlink in a lower layer is never followed from the host's side), and a
 * whiteout ends the search: the path was deleted there. (Opaque directories are not looked
 * at: the answer serves a missing parent's metadata and a hard link's source, where a layer
 * hidden by one is still a sound source.)
 */
export async function lowerEntry(
  lowers: readonly string[],
  parts: readonly string[],
): Promise<{ path: string; stat: Stats } | undefined> {
  for (const lower of lowers) {
    let dir = lower;
    let blocked = false;
    for (const part of parts.slice(0, -1)) {
      dir = join(dir, part);
      const st = await lstatOrUndefined(dir);
      if (st === undefined) break;
      // A file, symlink or whiteout above hides whatever the layers below have under it.
      if (!st.isDirectory()) {
        blocked = true;
        break;
      }
    }
    if (blocked) return undefined;
    const path = join(lower, ...parts);
    const st = await lstatOrUndefined(path);
    if (st === undefined) {
      // Not here: further down only if every ancestor was a directory of this layer or absent.
      continue;
    }
    return isWhiteout(st) ? undefined : { path, stat: st };
  }
  return undefined;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

function stderrOf(e: unknown): string {
  const stderr = (e as { stderr?: string }).stderr;
  return (stderr || (e as Error).message).trim().split('\n')[0];
}
