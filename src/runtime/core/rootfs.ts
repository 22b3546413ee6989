// A container's rootfs: a copy-on-write view of its image. overlayfs when the kernel allows it
// (lower = the image's layer directories, top first, read-only; upper and work in the
// container's directory), else a full copy (layer-copy.ts: the layers merged as overlay would
// show them, cp -a --reflink=auto, cheap on filesystems that share extents). The vm backend
// takes the same path: the overlay is mounted on the host and shared into the guest over 9p.
import { mkdir, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute } from 'node:path';
import { unavailable } from '../errors.js';
import { copyLayers } from './layer-copy.js';
import { isMounted } from './mounts.js';
import { execCommand as run } from '../../spawn/run-command.js';

export type RootfsMode = 'overlay' | 'copy';

export { isMounted } from './mounts.js';

/**
 * Makes `target` the container's rootfs. Returns how it did; with `mode` given (a restart or a
 * recovery) keeps to it: an overlay is mounted again if it is not, a copy is left as it is.
 */
export async function prepareRootfs(
  lower: string | readonly string[],
  dirs: { rootfs: string; upper: string; work: string },
  mode?: RootfsMode,
): Promise<RootfsMode> {
  await mkdir(dirs.rootfs, { recursive: true });
  if (mode === 'copy') return 'copy';
  if (await isMounted(dirs.rootfs)) return 'overlay';
  await mkdir(dirs.upper, { recursive: true });
  await mkdir(dirs.work, { recursive: true });
  const lowers = typeof lower === 'string' ? [lower] : lower;
  const how = overlayOptions(lowers, dirs);
  if (how) {
    try {
      await run('mount', ['-t', 'overlay', 'overlay', '-o', how.options, dirs.rootfs], {
        ...(how.cwd !== undefined && { cwd: how.cwd }),
      });
      return 'overlay';
    } catch (e) {
      if (mode === 'overlay')
        throw unavailable(`cannot mount the container's overlay again: ${errText(e)}`, e);
    }
  }
  try {
    if (typeof lower === 'string')
      await run('cp', ['-a', '--reflink=auto', `${lower}/.`, dirs.rootfs]);
    else await copyLayers(lower, dirs.rootfs);
  } catch (e) {
    await rm(dirs.rootfs, { recursive: true, force: true });
    throw unavailable(`no overlayfs and cannot copy the image's rootfs: ${errText(e)}`, e);
  }
  return 'copy';
}

/** The kernel reads at most one page of mount options (the terminating NUL included). */
const MOUNT_OPTIONS_MAX = 4095;

/**
 * The overlay's mount options, or undefined when they cannot be written: commas and colons
 * separate them, so paths with those cannot be given. Layers that all live in one directory
 * (the image store's short names) are named relative to it, the mount running there (as
 * containerd and Docker do), when the absolute paths would not fit in a page.
 */
export function overlayOptions(
  lowers: readonly string[],
  dirs: { upper: string; work: string },
): { options: string; cwd?: string } | undefined {
  if (lowers.length === 0 || /[,:]/.test(lowers.join('') + dirs.upper + dirs.work))
    return undefined;
  const rest = `,upperdir=${dirs.upper},workdir=${dirs.work}`;
  const absolute = `lowerdir=${lowers.join(':')}${rest}`;
  if (absolute.length <= MOUNT_OPTIONS_MAX) return { options: absolute };
  const cwd = dirname(lowers[0]);
  if (!isAbsolute(dirs.upper) || !isAbsolute(dirs.work)) return undefined;
  if (!lowers.every((l) => dirname(l) === cwd)) return undefined;
  const relative = `lowerdir=${lowers.map((l) => basename(l)).join(':')}${rest}`;
  // Still too many layers to name: the caller copies instead.
  return relative.length <= MOUNT_OPTIONS_MAX ? { options: relative, cwd } : undefined;
}

/** Unmounts the overlay (if mounted) and removes the rootfs, upper and work directories. */
export async function removeRootfs(dirs: { rootfs: string; upper: string; work: string }) {
  if (await isMounted(dirs.rootfs)) {
    try {
      await run('umount', [dirs.rootfs]);
    } catch {
      // Busy (someone has a file open in it): detach it, so the directory can go.
      await run('umount', ['-l', dirs.rootfs]);
    }
    // Never recurse into a view of the image: that would only write whiteouts, but still.
    if (await isMounted(dirs.rootfs)) throw unavailable(`cannot unmount ${dirs.rootfs}`);
  }
  for (const d of [dirs.rootfs, dirs.upper, dirs.work])
    await rm(d, { recursive: true, force: true });
}

function errText(e: unknown): string {
  const stderr = (e as { stderr?: string }).stderr;
  return (stderr || (e as Error).message).trim();
}
