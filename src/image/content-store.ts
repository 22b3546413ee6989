// The content store: blobs (manifests, configs, layers) kept by digest under
// <root>/sha256/<hex>. A blob is written to <root>/ingest/ while its digest is computed and
// only renamed into place once digest and size match, so a blob that exists is complete and
// verified. Ingests of one digest in this process share one download.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type Digest, digestHex, parseDigest } from './digest.js';
import { InvalidInputError, NotFoundError } from './errors.js';
import { maxDocumentSize } from './manifest.js';

/** Progress of one ingest: bytes written so far of `total` (when known). */
export type IngestProgress = (current: number, total: number | undefined) => void;

/** Opens the blob's bytes at the source (a registry response body, a file in an archive). */
export type BlobSource = () => Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>;

interface InFlight {
  done: Promise<boolean>;
  listeners: Set<IngestProgress>;
}

export class ContentStore {
  readonly #inFlight = new Map<Digest, InFlight>();

  constructor(readonly root: string) {}

  /** Where the blob lives (whether or not it exists yet). */
  path(digest: Digest): string {
    return join(this.root, 'sha256', digestHex(digest));
  }

  /** The blob's size, or undefined if the store does not have it. */
  async size(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.path(digest))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  /**
   * Reads a whole small blob (a manifest, an index, a config): one larger than
   * `maxDocumentSize` is refused, not read into memory.
   */
  async read(digest: Digest): Promise<Buffer> {
    try {
      const fh = await open(this.path(digest), 'r');
      try {
        const { size } = await fh.stat();
        if (size > maxDocumentSize)
          throw new InvalidInputError(
            `blob ${digest} is ${size} bytes, more than the ${maxDocumentSize} a manifest or image config may have`,
          );
        return await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new NotFoundError(`blob ${digest} is not in the content store`);
      throw e;
    }
  }

  /** Streams a blob. */
  async open(digest: Digest): Promise<Readable> {
    if (!(await this.has(digest)))
      throw new NotFoundError(`blob ${digest} is not in the content store`);
    return createReadStream(this.path(digest));
  }

  /** Stores bytes already in memory, checking them against `expected` if given. */
  async put(data: Buffer, expected?: Digest): Promise<Digest> {
    const actual = `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
    if (expected !== undefined && actual !== expected)
      throw new InvalidInputError(`digest mismatch: expected ${expected}, got ${actual}`);
    if (!(await this.has(actual))) await this.ingest(actual, data.length, async () => [data]);
    return actual;
  }

  /** The digests of the blobs the store holds. */
  async list(): Promise<Digest[]> {
    let names: string[];
    try {
      names = await readdir(join(this.root, 'sha256'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}` as Digest);
  }

  /** Removes a blob; resolves its size, or undefined if it was not here. */
  async remove(digest: Digest): Promise<number | undefined> {
    const size = await this.size(digest);
    if (size !== undefined) await rm(this.path(digest), { force: true });
    return size;
  }

  /**
   * Removes what interrupted ingests left in <root>/ingest. Only while no ingest runs (the
   * image store's collection holds its lock alone).
   */
  async removeLeftovers(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(join(this.root, 'ingest'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
    for (const n of names) await rm(join(this.root, 'ingest', n), { force: true });
    return names.length;
  }

  /**
   * Stores a blob whose digest is not known beforehand (a file of an archive): it is hashed
   * as it is written and named by what it hashes to.
   */
  async ingestUnnamed(
    source: AsyncIterable<Uint8Array>,
  ): Promise<{ digest: Digest; size: number }> {
    const ingestDir = join(this.root, 'ingest');
    await mkdir(ingestDir, { recursive: true });
    await mkdir(join(this.root, 'sha256'), { recursive: true });
    const tmp = join(ingestDir, `unnamed-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        for await (const chunk of source) {
          size += chunk.length;
          hash.update(chunk);
          await fh.write(chunk);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = `sha256:${hash.digest('hex')}` as Digest;
      await rename(tmp, this.path(digest));
      return { digest, size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Makes sure the store holds blob `digest` of `size` bytes (undefined: not known), reading
   * it from `source` only if it is missing. Resolves true if this call (or a concurrent one it
   * joined) had to fetch it, false if the blob was already here.
   */
  async ingest(
    digest: Digest,
    size: number | undefined,
    source: BlobSource,
    onProgress?: IngestProgress,
  ): Promise<boolean> {
    parseDigest(digest);
    return this.#ingest(digest, size, source, onProgress, true);
  }

  async #ingest(
    digest: Digest,
    size: number | undefined,
    source: BlobSource,
    listener: IngestProgress | undefined,
    mayRetry: boolean,
  ): Promise<boolean> {
    // Registered before the first await, so a concurrent ingest of the digest always joins.
    let running = this.#inFlight.get(digest);
    const joined = running !== undefined;
    if (running) {
      if (listener) running.listeners.add(listener);
    } else {
      const listeners = new Set<IngestProgress>(listener ? [listener] : []);
      const done = (async () => {
        if (await this.has(digest)) return false;
        await this.#fetch(digest, size, source, (cur, total) => {
          for (const l of listeners) l(cur, total);
        });
        return true;
      })();
      running = { done, listeners };
      this.#inFlight.set(digest, running);
      void done.then(
        () => this.#inFlight.delete(digest),
        () => this.#inFlight.delete(digest),
      );
    }
    try {
      return await running.done;
    } catch (e) {
      // A download this call joined may have failed for reasons of its own (its credentials,
      // its connection): then this call tries once more, from its own source.
      if (!joined || !mayRetry) throw e;
    } finally {
      if (listener) running.listeners.delete(listener);
    }
    return this.#ingest(digest, size, source, listener, false);
  }

  async #fetch(
    digest: Digest,
    size: number | undefined,
    source: BlobSource,
    progress: IngestProgress,
  ): Promise<void> {
    const ingestDir = join(this.root, 'ingest');
    await mkdir(ingestDir, { recursive: true });
    await mkdir(join(this.root, 'sha256'), { recursive: true });
    const tmp = join(ingestDir, `${digestHex(digest)}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let written = 0;
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        progress(0, size);
        for await (const chunk of await source()) {
          written += chunk.length;
          if (size !== undefined && written > size)
            throw new InvalidInputError(
              `blob ${digest} is larger than its declared size of ${size} bytes`,
            );
          hash.update(chunk);
          await fh.write(chunk);
          progress(written, size);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (size !== undefined && written !== size)
        throw new InvalidInputError(
          `blob ${digest} is ${written} bytes, its descriptor says ${size}`,
        );
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== digest)
        throw new InvalidInputError(
          `digest mismatch for blob ${digest}: content hashes to ${actual}`,
        );
      await rename(tmp, this.path(digest));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
}
