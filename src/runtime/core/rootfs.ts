// A container's rootfs: a copy-on-write view of its image's unpacked rootfs. overlayfs when the
// kernel allows it (lower = the image's rootfs, read-only; upper and work in the container's
// directory), else a full copy (cp -a --reflink=auto, cheap on filesystems that share extents).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { unavailable } from '../errors.js';

const run = promisify(execFile);

export type RootfsMode = 'overlay' | 'copy';

export function isMounted(path: string): boolean {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  // Field 5 is the mount point, with spaces and such escaped as octal.
  const escaped = path.replace(
    /[\s\\]/g,
    (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'),
  );
  return mounts.split('\n').some((l) => l.split(' ')[4] === escaped);
}

/**
 * Makes `target` the container's rootfs. Returns how it did; with `mode` given (a restart or a
 * recovery) keeps to it: an overlay is mounted again if it is not, a copy is left as it is.
 */
export async function prepareRootfs(
  lower: string,
  dirs: { rootfs: string; upper: string; work: string },
  mode?: RootfsMode,
): Promise<RootfsMode> {
  await mkdir(dirs.rootfs, { recursive: true });
  if (mode === 'copy') return 'copy';
  if (isMounted(dirs.rootfs)) return 'overlay';
  await mkdir(dirs.upper, { recursive: true });
  await mkdir(dirs.work, { recursive: true });
  // Commas and colons separate overlay options: such paths cannot be given to it.
  if (!/[,:]/.test(lower + dirs.upper + dirs.work)) {
    try {
      await run('mount', [
        '-t',
        'overlay',
        'overlay',
        '-o',
        `lowerdir=${lower},upperdir=${dirs.upper},workdir=${dirs.work}`,
        dirs.rootfs,
      ]);
      return 'overlay';
    } catch (e) {
      if (mode === 'overlay')
        throw unavailable(`cannot mount the container's overlay again: ${errText(e)}`, e);
    }
  }
  try {
    await run('cp', ['-a', '--reflink=auto', `${lower}/.`, dirs.rootfs]);
  } catch (e) {
    await rm(dirs.rootfs, { recursive: true, force: true });
    throw unavailable(`no overlayfs and cannot copy the image's rootfs: ${errText(e)}`, e);
  }
  return 'copy';
}

/** Unmounts the overlay (if mounted) and removes the rootfs, upper and work directories. */
export async function removeRootfs(dirs: { rootfs: string; upper: string; work: string }) {
  if (isMounted(dirs.rootfs)) {
    try {
      await run('umount', [dirs.rootfs]);
    } catch {
      // Busy (someone has a file open in it): detach it, so the directory can go.
      await run('umount', ['-l', dirs.rootfs]);
    }
    // Never recurse into a view of the image: that would only write whiteouts, but still.
    if (isMounted(dirs.rootfs)) throw unavailable(`cannot unmount ${dirs.rootfs}`);
  }
  for (const d of [dirs.rootfs, dirs.upper, dirs.work])
    await rm(d, { recursive: true, force: true });
}

function errText(e: unknown): string {
  const stderr = (e as { stderr?: string }).stderr;
  return (stderr || (e as Error).message).trim();
}
