// Garbage collection of the image store: what no image reference reaches — blobs (index,
// manifest, config, layers) and snapshots — is removed, as containerd's GC does from its
// roots. A snapshot holds one layer and is shared by every image whose chain has it, so it goes
// only when no image and no container reaches it: a snapshot reached keeps its parents too
// (they are the lower layers of a rootfs on it). What containers use is the caller's to say:
// their image's config blob and its whole stack of snapshots stay, reference or not, because
// those are the read-only lower layers of their overlays. Snapshots an older version made
// (legacy-snapshots.ts) stay only for the containers that use them.
import type { ContentStore } from './content-store.js';
import { type Digest, chainIds } from './digest.js';
import { NotFoundError } from './errors.js';
import type { ImageRecord } from './image-index.js';
import { parseImageConfig } from './manifest.js';
import type { LegacySnapshots } from './legacy-snapshots.js';
import type { SnapshotStore } from './snapshot-store.js';

/** What containers use; asked for once the collection holds the store alone. */
export interface InUse {
  /** Image ids (config digests) of containers' images: config blob and rootfs snapshot stay. */
  imageIds?: Iterable<string>;
  /** Snapshots (chain ids) containers have as their rootfs. */
  chainIds?: Iterable<string>;
}

export interface CollectOptions {
  /**
   * Images to keep besides those of the store's index (the caller's own references). Called
   * with the store locked, like inUse.
   */
  keep?: () => Iterable<ImageRecord>;
  /** What containers use now. Called with the store locked, so no pull runs meanwhile. */
  inUse?: () => InUse | Promise<InUse>;
}

/** The chain id of the (empty) rootfs snapshot of an image without layers. */
export const emptyChainId = `sha256:${'0'.repeat(64)}` as Digest;

export interface CollectResult {
  removedBlobs: number;
  /** Bytes of the blobs removed (snapshots are not counted: they would need a walk). */
  removedBlobBytes: number;
  /** Layer snapshots removed, and whole-rootfs snapshots of an older version. */
  removedSnapshots: number;
}

/** The collection proper; the caller holds the store's lock alone (ImageStore.collectGarbage). */
export async function collectGarbage(
  blobs: ContentStore,
  snapshots: SnapshotStore,
  indexed: readonly ImageRecord[],
  options: CollectOptions,
  legacy?: LegacySnapshots,
): Promise<CollectResult> {
  const liveBlobs = new Set<string>();
  const liveSnapshots = new Set<string>();
  /** Old whole-rootfs snapshots containers run on (a container names its image's top one). */
  const liveLegacy = new Set<string>();
  const chainOf = async (configDigest: Digest, layerCount?: number): Promise<Digest[]> => {
    try {
      const bytes = await blobs.read(configDigest);
      const config = parseImageConfig(bytes, layerCount ?? diffIdCount(bytes));
      return chainIds(config.diffIds);
    } catch {
      // No config (or a broken one): the record's own chain id is all we know.
      return [];
    }
  };

  /** A snapshot and those below it, as far as the store has them. */
  const keepStack = async (c: Digest) => {
    for (let x: Digest | undefined = c; x !== undefined;) {
      liveSnapshots.add(x);
      try {
        x = await snapshots.parent(x);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        x = undefined;
      }
      if (x !== undefined && liveSnapshots.has(x)) break; // the rest is kept already
    }
  };

  for (const r of [...indexed, ...(options.keep?.() ?? [])]) {
    for (const d of [r.indexDigest, r.manifestDigest, r.configDigest, ...r.layers])
      if (d) liveBlobs.add(d);
    await keepStack(r.chainId);
    for (const c of await chainOf(r.configDigest, r.layers.length)) liveSnapshots.add(c);
  }
  const used = options.inUse ? await options.inUse() : {};
  for (const id of used.imageIds ?? []) {
    if (!/^sha256:[0-9a-f]{64}$/.test(id)) continue;
    liveBlobs.add(id);
    const chain = await chainOf(id as Digest);
    for (const c of chain) liveSnapshots.add(c);
    const top = chain[chain.length - 1] ?? emptyChainId;
    liveSnapshots.add(top);
    liveLegacy.add(top);
  }
  for (const c of used.chainIds ?? []) {
    liveLegacy.add(c);
    if (/^sha256:[0-9a-f]{64}$/.test(c)) await keepStack(c as Digest);
  }

  const result: CollectResult = { removedBlobs: 0, removedBlobBytes: 0, removedSnapshots: 0 };
  for (const c of await snapshots.list())
    if (!liveSnapshots.has(c) && (await snapshots.remove(c))) result.removedSnapshots++;
  await snapshots.removeLeftovers();
  if (legacy) result.removedSnapshots += await legacy.removeAllBut(liveLegacy);
  for (const d of await blobs.list()) {
    if (liveBlobs.has(d)) continue;
    const size = await blobs.remove(d);
    if (size !== undefined) {
      result.removedBlobs++;
      result.removedBlobBytes += size;
    }
  }
  await blobs.removeLeftovers();
  return result;
}

/** How many diff_ids a config lists, for a config read without its manifest. */
function diffIdCount(bytes: Buffer): number {
  const raw = JSON.parse(bytes.toString('utf8')) as { rootfs?: { diff_ids?: unknown[] } };
  return raw.rootfs?.diff_ids?.length ?? 0;
}
