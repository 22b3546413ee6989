// The image store: pulls images from registries into the content store, unpacks their layers
// into snapshots, one per layer (snapshot-store.ts), and records references in the image
// index. Its state lives under the directory the caller gives: <state>/images/{blobs,layers,
// index.json} (and snapshots/, whole-rootfs snapshots of an older version: legacy-snapshots.ts). Removing a
// reference and collecting what no reference reaches any more frees the space (garbage.ts).
import { join } from 'node:path';
import { loadArchive } from './archive.js';
import type { Credentials } from './auth.js';
import { ContentStore } from './content-store.js';
import { type Digest, chainIds, digestHex } from './digest.js';
import { InvalidInputError, NotFoundError, UnavailableError } from './errors.js';
import { type ImageRecord, ReferenceIndex } from './image-index.js';
import {
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  type Platform,
  defaultPlatform,
  parseImageConfig,
  parseManifestDocument,
  selectPlatform,
} from './manifest.js';
import { layerCompression } from './media-types.js';
import { type ImageReference, formatReference, parseReference } from './reference.js';
import { RegistryClient, type RegistryOptions } from './registry-client.js';
import { LegacySnapshots } from './legacy-snapshots.js';
import { SnapshotStore } from './snapshot-store.js';
import { StoreLock } from './store-lock.js';
import {
  type CollectOptions,
  type CollectResult,
  collectGarbage,
  emptyChainId,
} from './garbage.js';
import { applyLayer } from './unpack.js';
import type { LayerLimits } from './layer-limits.js';

/** What a pull is doing to one layer (or, for 'Resolving', to the reference). */
export type PullStatus =
  | 'Resolving'
  | 'Waiting'
  | 'Downloading'
  | 'Verifying'
  | 'Download complete'
  | 'Already exists'
  | 'Extracting'
  | 'Pull complete';

export interface PullProgress {
  /** The layer's short id (first 12 hex digits of its digest), or the reference. */
  id: string;
  status: PullStatus;
  current?: number;
  total?: number;
}

export interface PullOptions {
  /**
   * The credentials of this pull (a pod's imagePullSecret, `docker pull`'s X-Registry-Auth).
   * Only they authorize it: the reference is always resolved at the registry with them, even
   * when the image is here already, and no other pull's credentials or tokens are used.
   */
  credentials?: Credentials;
  onProgress?: (event: PullProgress) => void;
  /** Called with notes from unpacking (skipped device nodes, xattrs). */
  onNote?: (note: string) => void;
}

export interface PullResult {
  image: ImageRecord;
  /**
   * The image's layer directories, top first: overlay lower directories (read only; a
   * container's rootfs stacks them). One directory for a one-layer image, its whole rootfs.
   */
  layers: string[];
  /** Blobs (manifests, config, layers) fetched from the registry by this pull. */
  fetchedBlobs: number;
}

export interface ImageStoreOptions extends RegistryOptions {
  platform?: Platform;
  /** Layers downloaded at once. Default 3, like dockerd. */
  concurrentDownloads?: number;
  /** How far a layer may expand (layer-limits.ts); the defaults unless given. */
  layerLimits?: Partial<LayerLimits>;
}

export class ImageStore {
  readonly blobs: ContentStore;
  readonly snapshots: SnapshotStore;
  readonly legacySnapshots: LegacySnapshots;
  readonly index: ReferenceIndex;
  readonly registry: RegistryClient;
  readonly #platform: Platform;
  readonly #concurrency: number;
  readonly #layerLimits: Partial<LayerLimits>;
  /** Pulls and loads share it; a garbage collection takes it alone. */
  readonly #lock = new StoreLock();

  constructor(
    readonly stateDir: string,
    options: ImageStoreOptions = {},
  ) {
    const root = join(stateDir, 'images');
    this.blobs = new ContentStore(join(root, 'blobs'));
    this.snapshots = new SnapshotStore(join(root, 'layers'));
    this.legacySnapshots = new LegacySnapshots(join(root, 'snapshots'));
    this.index = new ReferenceIndex(join(root, 'index.json'));
    this.registry = new RegistryClient(options);
    this.#platform = options.platform ?? defaultPlatform;
    this.#concurrency = Math.max(1, options.concurrentDownloads ?? 3);
    this.#layerLimits = options.layerLimits ?? {};
  }

  /** Looks an image up by reference (normalized as `docker pull` would). */
  async get(reference: string): Promise<ImageRecord> {
    const ref = parseReference(reference);
    const record = await this.index.get(formatReference(ref));
    if (!record) throw new NotFoundError(`no such image: ${formatReference(ref)}`);
    return record;
  }

  /**
   * The layer directories of an image of the store, top first, for a container's overlay (as
   * short names: links in one directory, see snapshot-store.ts). Snapshots that are missing —
   * an image recorded by an older version, whose snapshots were whole copies — are unpacked
   * again from the blobs first.
   */
  async layerDirs(image: ImageRecord): Promise<string[]> {
    return this.#lock.shared(async () => {
      if (!(await this.snapshots.has(image.chainId))) {
        const doc = parseManifestDocument(await this.blobs.read(image.manifestDigest));
        if (doc.kind !== 'manifest')
          throw new InvalidInputError(`${image.reference}: its manifest is an index`);
        await this.#unpack(doc, {});
      }
      return this.#layerDirs(image.chainId);
    });
  }

  async #layerDirs(top: Digest): Promise<string[]> {
    return (await this.snapshots.stack(top)).map((c) => this.snapshots.link(c));
  }

  /**
   * Pulls `reference` (tag or digest) from its registry with `options.credentials`.
   *
   * Concurrent pulls: each resolves its reference (tag or digest) at the registry with its own
   * credentials, so a pull the registry refuses fails whatever else is running. Once a pull's
   * manifest is authorized, its blobs are content: named by digest, verified on arrival, and
   * shared — with what the store holds already (as dockerd's "Already exists") and with a
   * download of the same blob another pull has running. If that shared download fails, the
   * pull fetches the blob again with its own credentials rather than take the other's error.
   */
  async pull(reference: string, options: PullOptions = {}): Promise<PullResult> {
    const ref = parseReference(reference);
    return this.#lock.shared(() => this.#pull(ref, options));
  }

  async #pull(ref: ImageReference, options: PullOptions): Promise<PullResult> {
    const creds = options.credentials;
    const name = formatReference(ref);
    const emit = options.onProgress ?? (() => {});
    let fetched = 0;
    emit({ id: ref.tag ?? ref.digest ?? name, status: 'Resolving' });

    // The manifest (or index) the reference names. A tag is resolved with HEAD first, so a
    // repeated pull of an image we have downloads nothing.
    // A digest is asked of the registry too (HEAD): it is what checks this pull's credentials
    // when the manifest is here already.
    let top: { bytes: Buffer; digest: Digest; contentType?: string };
    const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
    // (A digest we do not have is simply fetched: the GET checks the credentials.)
    const askFirst = !ref.digest || (await this.blobs.has(ref.digest));
    const headDigest = askFirst
      ? await this.registry.headManifest(ref, tagOrDigest, creds)
      : undefined;
    const known = askFirst ? (headDigest ?? ref.digest) : undefined;
    if (known && (await this.blobs.has(known))) {
      top = { bytes: await this.blobs.read(known), digest: known };
    } else {
      top = await this.registry.getManifest(ref, tagOrDigest, creds);
      await this.blobs.put(top.bytes, top.digest);
      fetched++;
    }
    let doc = parseManifestDocument(top.bytes, top.contentType);
    let manifestDigest = top.digest;
    let indexDigest: Digest | undefined;
    if (doc.kind === 'index') {
      indexDigest = top.digest;
      const chosen = selectPlatform(doc, name, this.#platform);
      const m = await this.#manifest(ref, chosen.digest, creds, () => fetched++);
      doc = parseManifestDocument(m.bytes, chosen.mediaType);
      if (doc.kind !== 'manifest')
        throw new InvalidInputError(`${name}: the index entry for the platform is another index`);
      manifestDigest = m.digest;
    }
    const manifest: ImageManifest = doc;

    if (await this.#ingest(ref, manifest.config, creds)) fetched++;
    parseImageConfig(await this.blobs.read(manifest.config.digest), manifest.layers.length);
    fetched += await this.#downloadLayers(ref, manifest.layers, creds, emit);
    const image = await this.#unpackAndRecord(name, manifest, manifestDigest, indexDigest, options);
    return { image, layers: await this.#layerDirs(image.chainId), fetchedBlobs: fetched };
  }

  /**
   * Loads the images of an OCI layout (directory or tar) or a `docker save` archive. Each is
   * recorded under the names the archive gives it, or under `reference` if the archive holds
   * one image (a bare OCI ref.name like `busybox` is a tag without a repository, not a name).
   */
  async load(
    path: string,
    options: PullOptions & { reference?: string } = {},
  ): Promise<PullResult[]> {
    return this.#lock.shared(() => this.#load(path, options));
  }

  async #load(path: string, options: PullOptions & { reference?: string }): Promise<PullResult[]> {
    const found = await loadArchive(this.blobs, path);
    if (options.reference !== undefined && found.length !== 1)
      throw new InvalidInputError(
        `${path} holds ${found.length} images; a reference can name only one`,
      );
    const results: PullResult[] = [];
    for (const item of found) {
      const names =
        options.reference !== undefined
          ? [options.reference]
          : item.names.filter((n) => n.includes('/') || n.includes(':'));
      if (names.length === 0)
        throw new InvalidInputError(
          `${path}: image ${item.digest} has no name in the archive; give a reference to load it as`,
        );
      let doc = parseManifestDocument(await this.blobs.read(item.digest));
      let manifestDigest = item.digest;
      let indexDigest: Digest | undefined;
      if (doc.kind === 'index') {
        indexDigest = item.digest;
        const chosen = selectPlatform(doc, path, this.#platform);
        doc = parseManifestDocument(await this.blobs.read(chosen.digest), chosen.mediaType);
        if (doc.kind !== 'manifest')
          throw new InvalidInputError(`${path}: the index entry for the platform is another index`);
        manifestDigest = chosen.digest;
      }
      for (const d of [doc.config, ...doc.layers])
        if (!(await this.blobs.has(d.digest)))
          throw new InvalidInputError(`${path}: blob ${d.digest} is missing from the archive`);
      for (const n of names) {
        const image = await this.#unpackAndRecord(
          formatReference(parseReference(n)),
          doc,
          manifestDigest,
          indexDigest,
          options,
        );
        results.push({ image, layers: await this.#layerDirs(image.chainId), fetchedBlobs: 0 });
      }
    }
    return results;
  }

  /** Unpacks a manifest whose blobs are all in the store, and records it under `name`. */
  async #unpackAndRecord(
    name: string,
    manifest: ImageManifest,
    manifestDigest: Digest,
    indexDigest: Digest | undefined,
    options: PullOptions,
  ): Promise<ImageRecord> {
    const chainId = await this.#unpack(manifest, options);
    const slash = name.lastIndexOf('/');
    const image: ImageRecord = {
      reference: name,
      repository: name.slice(0, slash) + name.slice(slash).replace(/[:@].*$/, ''),
      manifestDigest,
      ...(indexDigest && { indexDigest }),
      configDigest: manifest.config.digest,
      layers: manifest.layers.map((l) => l.digest),
      chainId,
      size: manifest.layers.reduce((n, l) => n + l.size, 0),
      created: new Date().toISOString(),
    };
    await this.index.put(image);
    return image;
  }

  /**
   * Unpacks the layers of a manifest whose blobs are all in the store, each into its own
   * snapshot (those there already are kept); resolves the top snapshot's chain id.
   */
  async #unpack(manifest: ImageManifest, options: PullOptions): Promise<Digest> {
    const emit = options.onProgress ?? (() => {});
    const config: ImageConfig = parseImageConfig(
      await this.blobs.read(manifest.config.digest),
      manifest.layers.length,
    );
    const chain = chainIds(config.diffIds);
    for (let i = 0; i < manifest.layers.length; i++) {
      const layer = manifest.layers[i];
      const id = shortId(layer.digest);
      await this.snapshots.ensure(chain[i], chain[i - 1], async (diff, lowers) => {
        emit({ id, status: 'Extracting', current: 0, total: layer.size });
        await applyLayer(diff, await this.blobs.open(layer.digest), {
          compression: layerCompression(layer.mediaType) ?? 'none',
          name: layer.digest,
          diffId: config.diffIds[i],
          lowers,
          onProgress: (n) => emit({ id, status: 'Extracting', current: n, total: layer.size }),
          limits: this.#layerLimits,
          ...(options.onNote && { onNote: options.onNote }),
        });
      });
      emit({ id, status: 'Pull complete' });
    }
    return chain[chain.length - 1] ?? (await this.#emptySnapshot());
  }

  /** A manifest by digest: from the content store if there, else fetched and stored. */
  async #manifest(
    ref: ImageReference,
    digest: Digest,
    credentials: Credentials | undefined,
    onFetch: () => void,
  ): Promise<{ bytes: Buffer; digest: Digest; contentType?: string }> {
    if (await this.blobs.has(digest)) return { bytes: await this.blobs.read(digest), digest };
    const m = await this.registry.getManifest(ref, digest, credentials);
    await this.blobs.put(m.bytes, digest);
    onFetch();
    return m;
  }

  /**
   * Makes sure one blob is in the content store; true if it had to be fetched. A download
   * that breaks off (Unavailable: the connection, the registry) is started over once.
   */
  async #ingest(
    ref: ImageReference,
    d: Descriptor,
    credentials: Credentials | undefined,
    onProgress?: (current: number, total: number | undefined) => void,
  ): Promise<boolean> {
    const source = () => this.registry.openBlob(ref, d.digest, credentials);
    try {
      return await this.blobs.ingest(d.digest, d.size, source, onProgress);
    } catch (e) {
      if (!(e instanceof UnavailableError)) throw e;
      return this.blobs.ingest(d.digest, d.size, source, onProgress);
    }
  }

  /** Downloads the missing layers, a few at a time; returns how many were fetched. */
  async #downloadLayers(
    ref: ImageReference,
    layers: Descriptor[],
    credentials: Credentials | undefined,
    emit: (e: PullProgress) => void,
  ): Promise<number> {
    let fetched = 0;
    let next = 0;
    const missing: Descriptor[] = [];
    for (const l of layers) {
      const id = shortId(l.digest);
      if (await this.blobs.has(l.digest)) emit({ id, status: 'Already exists' });
      else {
        missing.push(l);
        emit({ id, status: 'Waiting' });
      }
    }
    const worker = async () => {
      while (next < missing.length) {
        const l = missing[next++];
        const id = shortId(l.digest);
        const got = await this.#ingest(ref, l, credentials, (current, total) => {
          emit({ id, status: current === total ? 'Verifying' : 'Downloading', current, total });
        });
        if (got) fetched++;
        emit({ id, status: 'Download complete' });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, missing.length) }, worker));
    return fetched;
  }

  /**
   * Takes `reference` (normalized as `docker pull` would) out of the index. Its blobs and
   * snapshot stay until collectGarbage finds nothing else reaches them. NotFound if the index
   * does not hold it.
   */
  async removeReference(reference: string): Promise<ImageRecord> {
    const name = formatReference(parseReference(reference));
    const removed = await this.index.delete(name);
    if (!removed) throw new NotFoundError(`no such image: ${name}`);
    return removed;
  }

  /**
   * Removes the blobs and snapshots that no image reference reaches any more (nor the caller's
   * `keep` images), except what containers use (`inUse`), and what failed pulls left half
   * written. Waits for the pulls and loads running now; later ones wait for it.
   */
  async collectGarbage(options: CollectOptions = {}): Promise<CollectResult> {
    return this.#lock.exclusive(async () =>
      collectGarbage(
        this.blobs,
        this.snapshots,
        await this.index.list(),
        options,
        this.legacySnapshots,
      ),
    );
  }

  /**
   * A collection now if no pull or load runs (resolves its result), else one after they are
   * done (resolves undefined at once; its failure goes to `onError`). For a `docker rmi` that
   * must not wait for a long pull, nor hold new pulls back.
   */
  async collectGarbageWhenIdle(
    options: CollectOptions & { onError?: (e: unknown) => void } = {},
  ): Promise<CollectResult | undefined> {
    return this.#lock.whenIdle(async () => {
      try {
        return await collectGarbage(
          this.blobs,
          this.snapshots,
          await this.index.list(),
          options,
          this.legacySnapshots,
        );
      } catch (e) {
        options.onError?.(e);
        throw e;
      }
    });
  }

  /** An image without layers still needs a (empty) rootfs. */
  async #emptySnapshot(): Promise<Digest> {
    await this.snapshots.ensure(emptyChainId, undefined, async () => {});
    return emptyChainId;
  }
}

function shortId(d: Digest): string {
  return digestHex(d).slice(0, 12);
}
