// A container's writable layer on the host, as both backends keep it: the overlay's upper
// directory (what the container wrote), or the whole copy when there is no overlay.
import type { RootfsMode } from '../core/rootfs.js';
import { fsUsage, treeUsage } from './disk-usage.js';
import type { FsUsage } from './types.js';

export async function layerUsage(
  mode: RootfsMode,
  dirs: { rootfs: string; upper: string },
): Promise<FsUsage> {
  const layer = mode === 'overlay' ? dirs.upper : dirs.rootfs;
  return fsUsage(await treeUsage([layer]), layer);
}
