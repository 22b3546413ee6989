// The image index: which manifest each image reference names, kept in <root>/index.json and
// rewritten atomically (temporary file + rename) so a crash never leaves half a file.
import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import type { Digest } from './digest.js';

export interface ImageRecord {
  /** Normalized reference: `127.0.0.1:5000/busybox:1`, or `…@sha256:…` if pulled by digest. */
  reference: string;
  /** `registry/repository`. */
  repository: string;
  /** The platform manifest's digest (what `docker images --digests` shows). */
  manifestDigest: Digest;
  /** The index or manifest list the reference resolved through, if any. */
  indexDigest?: Digest;
  configDigest: Digest;
  /** Layer blob digests, bottom first. */
  layers: Digest[];
  /** The ChainID of the whole stack: the snapshot holding the image's rootfs. */
  chainId: Digest;
  /** Sum of the layer blobs' sizes. */
  size: number;
  created: string;
}

interface IndexFile {
  version: 1;
  images: Record<string, ImageRecord>;
}

export class ReferenceIndex {
  #queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  async #read(): Promise<IndexFile> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as IndexFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: {} };
      throw e;
    }
  }

  async get(reference: string): Promise<ImageRecord | undefined> {
    return (await this.#read()).images[reference];
  }

  async list(): Promise<ImageRecord[]> {
    return Object.values((await this.#read()).images);
  }

  /** Records `record` under its reference; updates in this process are serialized. */
  put(record: ImageRecord): Promise<void> {
    return this.#update((index) => {
      index.images[record.reference] = record;
    });
  }

  /** Takes `reference` out; resolves the record it named, or undefined if there was none. */
  delete(reference: string): Promise<ImageRecord | undefined> {
    return this.#update((index) => {
      const record = index.images[reference];
      delete index.images[reference];
      return record;
    });
  }

  /** Reads, changes and rewrites the file, one update at a time. */
  #update<T>(change: (index: IndexFile) => T): Promise<T> {
    const next = this.#queue.then(async () => {
      const index = await this.#read();
      const result = change(index);
      await mkdir(dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, `${JSON.stringify(index, null, 2)}\n`);
      return result;
    });
    this.#queue = next.catch(() => {});
    return next;
  }
}
