// Images from files, for machines with no registry: an OCI image layout (a directory, or a
// tar of one) and a `docker save` archive (manifest.json with Config and Layers; the classic
// <id>/layer.tar form and the newer one with an OCI layout inside). Every blob goes into the
// content store, named by what it hashes to, and the images found are handed back as the
// digest of their top document (index or manifest).
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import type { ContentStore } from './content-store.js';
import { type Digest, parseDigest } from './digest.js';
import { InvalidInputError, NotFoundError } from './errors.js';
import { maxDocumentSize } from './manifest.js';
import { mediaTypes } from './media-types.js';

export interface ArchiveImage {
  /** The index or manifest naming the image, now in the content store. */
  digest: Digest;
  /** Names the archive gives it (`busybox:latest`, `docker.io/library/busybox:1`). */
  names: string[];
}

const smallFiles = new Set(['index.json', 'oci-layout', 'manifest.json', 'repositories']);

/** Loads the images of an OCI layout directory or of a tar archive (OCI or docker save). */
export async function loadArchive(blobs: ContentStore, path: string): Promise<ArchiveImage[]> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new NotFoundError(`no such archive or directory: ${path}`);
  }
  return st.isDirectory() ? loadLayoutDir(blobs, path) : loadTar(blobs, path);
}

/** OCI image layout directory: index.json and blobs/sha256/<hex>. */
async function loadLayoutDir(blobs: ContentStore, dir: string): Promise<ArchiveImage[]> {
  let indexBytes: Buffer;
  try {
    indexBytes = await readFile(join(dir, 'index.json'));
  } catch {
    throw new InvalidInputError(`${dir} is not an OCI image layout (no index.json)`);
  }
  const images = ociImages(indexBytes, dir);
  // Copy every blob the layout holds that the images may need: each is verified on the way.
  const seen = new Set<Digest>();
  const copy = async (digest: Digest) => {
    if (seen.has(digest)) return;
    seen.add(digest);
    const file = join(dir, 'blobs', 'sha256', digest.slice(7));
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      throw new InvalidInputError(`${dir}: blob ${digest} is missing`);
    }
    await blobs.ingest(digest, size, async () => createReadStream(file));
    // Follow the references of indexes and manifests to their blobs.
    if (size <= maxDocumentSize)
      for (const d of referencedDigests(await blobs.read(digest))) await copy(d);
  };
  for (const img of images) await copy(img.digest);
  return images;
}

/** The digests a JSON document (index or manifest) refers to; none for other blobs. */
function referencedDigests(bytes: Buffer): Digest[] {
  let doc: {
    manifests?: { digest?: string }[];
    config?: { digest?: string };
    layers?: { digest?: string }[];
  };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    return [];
  }
  // Only manifests and indexes (schemaVersion 2) refer to blobs; an image config has a
  // `config` member of another kind.
  if (
    typeof doc !== 'object' ||
    doc === null ||
    (doc as { schemaVersion?: unknown }).schemaVersion !== 2
  )
    return [];
  const all = [
    ...(doc.manifests ?? []),
    ...(doc.config ? [doc.config] : []),
    ...(doc.layers ?? []),
  ];
  return all.map((d) => parseDigest(d.digest, 'referenced digest'));
}

/** The images listed in an OCI index.json, with their ref.name annotations as names. */
function ociImages(indexBytes: Buffer, where: string): ArchiveImage[] {
  let index: { manifests?: { digest?: unknown; annotations?: Record<string, string> }[] };
  try {
    index = JSON.parse(indexBytes.toString('utf8')) as typeof index;
  } catch {
    throw new InvalidInputError(`${where}: index.json is not valid JSON`);
  }
  if (!Array.isArray(index.manifests))
    throw new InvalidInputError(`${where}: index.json has no manifests list`);
  return index.manifests.map((m) => {
    const names = [
      m.annotations?.['io.containerd.image.name'],
      m.annotations?.['org.opencontainers.image.ref.name'],
    ].filter((n): n is string => typeof n === 'string' && n !== '');
    return { digest: parseDigest(m.digest, 'index.json manifest digest'), names };
  });
}

/** Streams a tar archive once: small JSON files into memory, every other file into the store. */
async function loadTar(blobs: ContentStore, path: string): Promise<ArchiveImage[]> {
  const files = new Map<string, Buffer>();
  const stored = new Map<string, Digest>();
  const parser = new Parser();
  let failure: unknown;
  let chain = Promise.resolve();
  parser.on('entry', (entry: ReadEntry) => {
    chain = chain.then(async () => {
      if (failure !== undefined || (entry.type !== 'File' && entry.type !== 'OldFile'))
        return void entry.resume();
      const name = entry.path.replace(/^(\.\/|\/)+/, '');
      try {
        if (smallFiles.has(name) || (name.endsWith('.json') && !name.includes('/'))) {
          if (entry.size > maxDocumentSize)
            throw new InvalidInputError(`${path}: ${name} is too large`);
          const chunks: Buffer[] = [];
          for await (const c of entry) chunks.push(c as Buffer);
          files.set(name, Buffer.concat(chunks));
        } else {
          const { digest } = await blobs.ingestUnnamed(entry as AsyncIterable<Uint8Array>);
          stored.set(name, digest);
        }
      } catch (e) {
        failure ??= e;
        entry.resume();
      }
    });
  });
  parser.on('warn', (_code: string, message: string) => {
    failure ??= new InvalidInputError(`${path} is not a valid tar archive: ${message}`);
  });
  await new Promise<void>((resolve, reject) => {
    const input = createReadStream(path);
    input.on('error', reject);
    parser.on('end', resolve);
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
  await chain;
  if (failure !== undefined) throw failure;

  // An OCI layout: blobs are named by their digest; check each is what its name says.
  for (const [name, digest] of stored) {
    const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
    if (m && digest !== `sha256:${m[1]}`)
      throw new InvalidInputError(`${path}: ${name} hashes to ${digest}`);
  }
  const manifestJson = files.get('manifest.json');
  if (manifestJson) return dockerSaveImages(blobs, manifestJson, files, stored, path);
  const indexJson = files.get('index.json');
  if (indexJson) return ociImages(indexJson, path);
  throw new InvalidInputError(
    `${path} is neither an OCI image layout nor a docker save archive (no index.json or manifest.json)`,
  );
}

/** `docker save`'s manifest.json: a synthetic OCI manifest per image, stored as a blob. */
async function dockerSaveImages(
  blobs: ContentStore,
  manifestJson: Buffer,
  files: Map<string, Buffer>,
  stored: Map<string, Digest>,
  path: string,
): Promise<ArchiveImage[]> {
  let list: { Config?: unknown; RepoTags?: unknown; Layers?: unknown }[];
  try {
    list = JSON.parse(manifestJson.toString('utf8')) as typeof list;
  } catch {
    throw new InvalidInputError(`${path}: manifest.json is not valid JSON`);
  }
  if (!Array.isArray(list)) throw new InvalidInputError(`${path}: manifest.json is not a list`);
  const out: ArchiveImage[] = [];
  for (const item of list) {
    if (typeof item.Config !== 'string' || !Array.isArray(item.Layers))
      throw new InvalidInputError(`${path}: manifest.json entry without Config or Layers`);
    const configBytes =
      files.get(item.Config) ??
      (stored.has(item.Config) ? await blobs.read(stored.get(item.Config)!) : undefined);
    if (!configBytes) throw new InvalidInputError(`${path}: ${item.Config} is missing`);
    const config = await blobs.put(configBytes);
    const layers = [];
    for (const l of item.Layers) {
      const digest = typeof l === 'string' ? stored.get(l.replace(/^\.\//, '')) : undefined;
      if (!digest) throw new InvalidInputError(`${path}: layer ${String(l)} is missing`);
      const size = (await blobs.size(digest)) ?? 0;
      const head = await readHead(blobs.path(digest));
      const gzip = head[0] === 0x1f && head[1] === 0x8b;
      layers.push({
        mediaType: gzip ? mediaTypes.ociLayerGzip : mediaTypes.ociLayer,
        digest,
        size,
      });
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: mediaTypes.ociConfig, digest: config, size: configBytes.length },
      layers,
    };
    const digest = await blobs.put(Buffer.from(JSON.stringify(manifest)));
    const names = Array.isArray(item.RepoTags)
      ? item.RepoTags.filter((t) => typeof t === 'string')
      : [];
    out.push({ digest, names });
  }
  return out;
}

async function readHead(file: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(file, { start: 0, end: 1 })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
