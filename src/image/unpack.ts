// Unpacks one layer (a tar stream, gzip or not) into an empty directory as that layer's diff,
// the way containerd's overlay snapshotter does: files, directories, symlinks, hard links,
// owners, modes (setuid/setgid/sticky exactly as in the layer) and times, and its whiteouts in
// overlayfs's format (overlay-diff.ts): `.wh.<name>` becomes a whiteout device, `.wh..wh..opq`
// an opaque directory. The layers below are only read: a parent directory the tar does not
// list takes its owner, mode and time from them, and a hard link to a file of theirs copies it.
// What may be written where (never outside the layer's directory) is layer-writer.ts's.
import { createHash } from 'node:crypto';
import { lstat, realpath, utimes } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline, type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import type { Digest } from './digest.js';
import { zstdDecompressor } from './zstd.js';
import { InvalidInputError } from './errors.js';
import { LayerBudget, type LayerLimits, defaultLayerLimits } from './layer-limits.js';
import { LayerWriter } from './layer-writer.js';

export { entryComponents } from './layer-writer.js';

export interface ApplyLayerOptions {
  /** How the stream is compressed. */
  compression: 'gzip' | 'zstd' | 'none';
  /** Names the layer in error messages (its digest). */
  name?: string;
  /** The expected digest of the uncompressed tar (the config's diff_id); checked at the end. */
  diffId?: Digest;
  /** Called as compressed bytes are consumed. */
  onProgress?: (bytesRead: number) => void;
  /** Things skipped or adjusted (a device node when not root, extended attributes). */
  onNote?: (note: string) => void;
  /** Whether to set owners from the layer; default: when running as root. */
  chown?: boolean;
  /** The diff directories of the layers below, top first (read only, never written). */
  lowers?: readonly string[];
  /** How far the layer may expand (layer-limits.ts); the defaults unless given. */
  limits?: Partial<LayerLimits>;
}

export interface ApplyLayerResult {
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  entries: number;
}

/**
 * Unpacks the layer read from `input` into `root` (an existing, empty directory) as its
 * overlay diff. On error the directory is left half-written: callers unpack into a snapshot
 * they discard on failure.
 */
export async function applyLayer(
  root: string,
  input: Readable,
  options: ApplyLayerOptions,
): Promise<ApplyLayerResult> {
  const label = `layer ${options.name ?? ''}`.trim();
  const writer = new LayerWriter(
    root,
    label,
    options.chown ?? process.getuid?.() === 0,
    options.onNote ?? (() => {}),
    options.lowers ?? [],
  );
  const budget = new LayerBudget(
    label,
    { ...defaultLayerLimits, ...options.limits },
    options.compression !== 'none',
  );
  const parser = new Parser();
  const hash = createHash('sha256');
  let failure: unknown;
  let allZero = true;
  let chain = Promise.resolve();
  const fail = (e: unknown) => {
    failure ??= e;
  };
  // The entry being written: ended by force when the layer is refused midway, or its writer
  // would wait for data that never comes.
  let current: ReadEntry | undefined;
  parser.on('entry', (entry: ReadEntry) => {
    try {
      budget.entry();
    } catch (e) {
      fail(e);
    }
    chain = chain.then(async () => {
      current = entry;
      if (failure !== undefined) return void entry.resume();
      try {
        await writer.apply(entry);
      } catch (e) {
        fail(e);
        entry.resume();
      } finally {
        current = undefined;
      }
    });
  });
  parser.on('warn', (code: string, message: string, data: { entry?: ReadEntry }) => {
    if (code === 'TAR_BAD_ARCHIVE' && allZero) return; // an empty layer: just end blocks
    // The last entry's data is whole but its padding and the end blocks are missing (umoci
    // 0.4 writes layers so). Go's archive/tar, and so Docker and containerd, accept that.
    const have = /only (\d+) available/.exec(message);
    if (code === 'TAR_BAD_ARCHIVE' && data?.entry && have && Number(have[1]) >= data.entry.remain)
      return;
    fail(new InvalidInputError(`${label} is not a valid tar archive: ${message}`));
  });
  parser.on('error', (e: Error) => fail(new InvalidInputError(`${label}: ${e.message}`)));

  let read = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      read += chunk.length;
      options.onProgress?.(read);
      done(null, chunk);
    },
  });
  const stages: NodeJS.ReadWriteStream[] = [counter];
  if (options.compression === 'gzip') stages.push(createGunzip());
  if (options.compression === 'zstd') stages.push(zstdDecompressor(label));
  const counted = pipeline([input, ...stages], () => {}) as unknown as Readable;
  try {
    for await (const chunk of counted as AsyncIterable<Buffer>) {
      if (failure !== undefined) break;
      try {
        budget.bytes(chunk.length, read);
      } catch (e) {
        fail(e);
        break;
      }
      hash.update(chunk);
      if (allZero && chunk.some((b) => b !== 0)) allZero = false;
      if (!parser.write(chunk)) {
        await new Promise<void>((resolve) => {
          parser.once('drain', resolve);
          // A failed entry is drained by the chain; don't wait for a parser that stopped.
          void chain.then(() => failure !== undefined && resolve());
        });
      }
    }
  } catch (e) {
    fail(
      options.compression === 'gzip' && (e as NodeJS.ErrnoException).code?.startsWith('Z_')
        ? new InvalidInputError(`${label} is not valid gzip: ${(e as Error).message}`)
        : e,
    );
  }
  if (failure === undefined) {
    await new Promise<void>((resolve) => {
      parser.once('end', resolve);
      parser.end();
    });
  }
  if (failure !== undefined) current?.destroy(failure as Error);
  await chain;
  if (failure !== undefined) {
    input.destroy();
    throw failure;
  }
  await setDirTimes(root, writer.dirTimes);
  const diffId = `sha256:${hash.digest('hex')}` as Digest;
  if (options.diffId !== undefined && diffId !== options.diffId)
    throw new InvalidInputError(
      `${label}: uncompressed content hashes to ${diffId}, the image config says ${options.diffId}`,
    );
  return { diffId, entries: writer.entries };
}

/**
 * Sets the directories' times, deepest first (so setting a child's does not disturb its
 * parent's afterwards). A later entry may have replaced a directory (with a file, a whiteout)
 * or one of its parents with a symlink: such a path is skipped, never followed — utimes
 * follows links, and a link could lead outside the layer.
 */
async function setDirTimes(root: string, dirs: { path: string; mtime: Date }[]): Promise<void> {
  const realRoot = await realpath(root);
  for (const { path, mtime } of [...dirs].reverse()) {
    const real = await realpath(path).catch(() => undefined);
    if (real !== join(realRoot, relative(root, path))) continue;
    if (!(await lstat(path)).isDirectory()) continue;
    await utimes(path, mtime, mtime);
  }
}
