// A container's writable layer on the host, as both backends keep it: the overlay's upper
// directory (what the container wrote), or the whole copy when there is no overlay. Walking it
// costs in proportion to its files, and scrapers ask every few seconds: an answer is reused for
// LAYER_TTL_MS, as the kubelet's cadvisor refreshes disk usage on its own slower clock.
import type { RootfsMode } from '../core/rootfs.js';
import { fsUsage, treeUsage } from './disk-usage.js';
import type { FsUsage } from './types.js';

export const LAYER_TTL_MS = 10_000;
/** Layers remembered at most (past it the oldest go first). */
const MAX_REMEMBERED = 1024;

const remembered = new Map<string, { at: number; usage: Promise<FsUsage> }>();

export function layerUsage(
  mode: RootfsMode,
  dirs: { rootfs: string; upper: string },
  now = Date.now(),
): Promise<FsUsage> {
  const layer = mode === 'overlay' ? dirs.upper : dirs.rootfs;
  const known = remembered.get(layer);
  if (known && now - known.at < LAYER_TTL_MS) return known.usage;
  const usage = treeUsage([layer]).then((t) => fsUsage(t, layer));
  remembered.delete(layer);
  remembered.set(layer, { at: now, usage });
  if (remembered.size > MAX_REMEMBERED) remembered.delete(remembered.keys().next().value!);
  // A failed walk is not remembered.
  usage.catch(() => remembered.get(layer)?.usage === usage && remembered.delete(layer));
  return usage;
}
