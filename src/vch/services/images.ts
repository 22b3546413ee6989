// The VCH's images: which references it holds (its database) over the content of the image
// store (blobs and unpacked snapshots): pull, login, load, list, inspect, remove, and freeing
// what no image needs any more. Lookups go as Docker's do: by reference (normalized as
// `docker pull` would), by `sha256:` id, or by a unique id prefix.
import {
  type CollectOptions,
  type CollectResult,
  type Credentials,
  type ImageRecord,
  type ImageStore,
  type PullProgress,
  RegistryAuth,
  causeText,
  formatReference,
  parseImageConfig,
  parseReference,
} from '../../image/index.js';
import type { VchDb } from '../db.js';
import { conflict, invalidInput, notFound, unavailable } from '../errors.js';
import type { ImageInfo, LoadResult, PullOutcome, PullRequest, RemoveRequest } from '../types.js';
import type { VchContext } from './context.js';

/** `docker.io/library/busybox:1` → `busybox:1`, as Docker's messages name images. */
function familiarName(reference: string): string {
  return reference.replace(/^docker\.io\/(library\/)?/, '');
}

function shortHex(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function objectOr(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
}

export class ImageService {
  private readonly db: VchDb;

  constructor(
    private readonly ctx: VchContext,
    readonly store: ImageStore,
  ) {
    this.db = ctx.db;
  }

  /** What the image store has to say on an image (an unpack note, a failed collection). */
  #note(image: string, note: string): void {
    this.ctx.log.info({ image, note }, 'unpack note');
  }

  /** Pulls with the request's credentials only (none: anonymously), whatever came before. */
  async pull(req: PullRequest): Promise<PullOutcome> {
    this.ctx.ensureOpen();
    const ref = parseReference(req.reference);
    const result = await this.store.pull(formatReference(ref), {
      ...(req.credentials && { credentials: req.credentials }),
      ...(req.onProgress && { onProgress: req.onProgress }),
      onNote: (note) => this.#note(req.reference, note),
    });
    this.db.putImage(result.image);
    this.ctx.emit('image', 'pull', result.image.configDigest, { name: result.image.reference });
    return {
      image: await this.info(result.image.configDigest),
      reference: result.image.reference,
      fetchedBlobs: result.fetchedBlobs,
    };
  }

  /**
   * Checks credentials against a registry, as `docker login` asks the daemon to: the
   * registry's /v2/ answered with them (basic, or a token got with them). InvalidInput if the
   * registry refuses them, Unavailable if it cannot be reached.
   */
  async login(registry: string, credentials: Credentials): Promise<void> {
    const url = `${this.store.registry.baseUrl(registry)}/v2/`;
    const get = async (headers: Record<string, string>) => {
      try {
        return await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
      } catch (e) {
        throw unavailable(`cannot reach ${url}: ${causeText(e)}`);
      }
    };
    let res = await get({});
    if (res.status === 401) {
      await res.body?.cancel();
      const header = await new RegistryAuth(fetch).answer(
        registry,
        credentials,
        res.headers.get('www-authenticate'),
        '',
        `login to ${registry}`,
      );
      res = await get({ authorization: header });
    }
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403)
      throw invalidInput(`login attempt to ${url} failed with status: ${res.status} Unauthorized`);
    if (!res.ok) throw unavailable(`login attempt to ${url} failed with status: ${res.status}`);
  }

  /** Loads the images of an archive (OCI layout tar or `docker save` tar) at `path`. */
  async load(path: string, onProgress?: (event: PullProgress) => void): Promise<LoadResult> {
    this.ctx.ensureOpen();
    const results = await this.store.load(path, { ...(onProgress && { onProgress }) });
    for (const r of results) {
      this.db.putImage(r.image);
      this.ctx.emit('image', 'load', r.image.configDigest, { name: r.image.reference });
    }
    return { references: results.map((r) => r.image.reference) };
  }

  async list(): Promise<ImageInfo[]> {
    const ids = [...new Set(this.db.images().map((r) => r.configDigest))];
    return Promise.all(ids.map((id) => this.info(id)));
  }

  async inspect(ref: string): Promise<ImageInfo> {
    return this.info((await this.resolve(ref)).configDigest);
  }

  /**
   * Removes a reference (by name) or every reference of an image (by id). Conflict if a
   * container uses an image that would lose its last reference, unless `force`. Answers what
   * was untagged and deleted, as Docker does; blobs and snapshots no image needs are freed.
   */
  async remove(
    ref: string,
    req: RemoveRequest = {},
  ): Promise<{ untagged: string[]; deleted: string[] }> {
    const image = await this.resolve(ref);
    const byName = this.#byReference(ref) !== undefined;
    const refs = this.db.imagesById(image.configDigest).map((r) => r.reference);
    const untag = byName ? [image.reference] : refs;
    if (!byName && refs.length > 1 && !req.force)
      throw conflict(
        `unable to delete ${shortHex(image.configDigest)} (must be forced) - image is referenced in multiple repositories`,
      );
    const last = untag.length === refs.length;
    const user = last ? this.db.imageInUse(image.configDigest) : undefined;
    if (user && !req.force)
      throw conflict(
        `unable to remove repository reference "${ref}" (must force) - container ${shortHex(user)} is using its referenced image ${shortHex(image.configDigest)}`,
      );
    this.db.transaction(() => {
      for (const r of untag) this.db.deleteImageReference(r);
    });
    for (const r of untag) await this.store.index.delete(r);
    this.ctx.emit('image', 'delete', image.configDigest, { name: ref });
    // The references are gone whatever happens next: a collection that fails leaves only
    // space unfreed, which the next one frees.
    await this.collectGarbage(ref);
    return { untagged: untag, deleted: last && !user ? [image.configDigest] : [] };
  }

  /**
   * Frees the blobs and snapshots no reference of the VCH reaches any more. The VCH's own
   * references count as well as the image store's index; the images of its containers keep
   * their config and rootfs (a running container's overlay has it as its lower layer; a
   * stopped one needs it to start again). Run after an image loses a reference, and after a
   * container goes whose image had lost its last one (`docker rmi -f` of a used image). While
   * pulls run, it happens right after them: the caller does not wait for a long pull, nor do
   * new pulls wait for it. Never rejects: a failure is logged (`about` names what it was for).
   */
  async collectGarbage(about = 'images'): Promise<CollectResult | undefined> {
    const failed = (e: unknown) =>
      this.#note(about, `image garbage collection failed: ${(e as Error).message}`);
    return this.store
      .collectGarbageWhenIdle({ ...this.#roots(), onError: failed })
      .catch(() => undefined);
  }

  /**
   * A container that used `imageId` is gone: if it was the last user of an image untagged
   * while in use (`docker rmi -f`), the image is freed now, not at the next rmi. In the
   * background; it never rejects.
   */
  release(imageId: string, about: string): void {
    if (this.db.imagesById(imageId).length === 0 && !this.db.imageInUse(imageId))
      void this.collectGarbage(about);
  }

  /** What a collection keeps: the VCH's references, and its containers' images. */
  #roots(): CollectOptions {
    return {
      keep: () => this.db.images(),
      inUse: () => ({ imageIds: this.db.containers().map((c) => c.imageId) }),
    };
  }

  #byReference(ref: string): ImageRecord | undefined {
    try {
      return this.db.imageByReference(formatReference(parseReference(ref)));
    } catch {
      return undefined;
    }
  }

  /** An image by reference, `sha256:<hex>` id, or unique id prefix. NotFound otherwise. */
  async resolve(ref: string): Promise<ImageRecord> {
    const named = this.#byReference(ref);
    if (named) return named;
    const hex = /^(?:sha256:)?([0-9a-f]{1,64})$/.exec(ref)?.[1];
    if (hex) {
      const ids = [...new Set(this.db.images().map((r) => r.configDigest))].filter((d) =>
        d.slice(7).startsWith(hex),
      );
      if (ids.length === 1) return this.db.imagesById(ids[0])[0];
      if (ids.length > 1) throw invalidInput(`multiple images found with provided prefix: ${ref}`);
    }
    let name = ref;
    try {
      name = formatReference(parseReference(ref));
    } catch {}
    throw notFound(`No such image: ${familiarName(name)}`);
  }

  /** The image config's `config` section (Entrypoint, Cmd, Env, WorkingDir, User, …). */
  async processConfig(image: ImageRecord): Promise<Record<string, unknown>> {
    const bytes = await this.store.blobs.read(image.configDigest);
    return objectOr(parseImageConfig(bytes, image.layers.length).raw.config);
  }

  async info(imageId: string): Promise<ImageInfo> {
    const records = this.db.imagesById(imageId);
    if (records.length === 0) throw notFound(`No such image: ${imageId}`);
    const first = records[0];
    const config = parseImageConfig(
      await this.store.blobs.read(first.configDigest),
      first.layers.length,
    );
    const createdText = typeof config.raw.created === 'string' ? config.raw.created : first.created;
    const created = Math.floor(Date.parse(createdText) / 1000);
    return {
      id: imageId,
      references: records.filter((r) => !r.reference.includes('@')).map((r) => r.reference),
      digests: [
        ...new Set(records.map((r) => `${r.repository}@${r.indexDigest ?? r.manifestDigest}`)),
      ],
      created: Number.isFinite(created) ? created : 0,
      size: first.size,
      config: objectOr(config.raw.config),
      os: config.os,
      architecture: config.architecture,
      diffIds: config.diffIds,
      records,
    };
  }
}
