// Parsing and checking of the JSON documents of an image: indexes (OCI image index, Docker
// manifest list), manifests (OCI, Docker schema 2) and image configs. Everything a registry or
// an archive sends is checked here before it is trusted.
import { type Digest, parseDigest } from './digest.js';
import { escapeControls } from '../errdefs.js';
import { InvalidInputError, NotFoundError } from './errors.js';
import {
  configMediaTypes,
  indexMediaTypes,
  layerCompression,
  manifestMediaTypes,
  mediaTypes,
} from './media-types.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** The parts of an image config the store needs; `raw` keeps the whole document. */
export interface ImageConfig {
  os: string;
  architecture: string;
  diffIds: Digest[];
  raw: Record<string, unknown>;
}

/** The platform vic-kubelet runs containers for. */
export const defaultPlatform: Platform = { os: 'linux', architecture: 'amd64' };

/** Largest manifest, index or config we accept (the distribution spec suggests 4 MiB). */
export const maxDocumentSize = 4 << 20;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new InvalidInputError(
      `${what} is not valid JSON: ${escapeControls((e as Error).message)}`,
    );
  }
  if (!isObject(doc)) throw new InvalidInputError(`${what} is not a JSON object`);
  return doc;
}

function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw new InvalidInputError(`${what} is not an object`);
  const { mediaType, digest, size, platform, annotations } = v;
  if (typeof mediaType !== 'string') throw new InvalidInputError(`${what} has no mediaType`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw new InvalidInputError(`${what} has an invalid size: ${JSON.stringify(size)}`);
  const d: Descriptor = { mediaType, digest: parseDigest(digest, `${what} digest`), size };
  if (isObject(platform)) {
    const { os, architecture, variant } = platform;
    if (typeof os === 'string' && typeof architecture === 'string')
      d.platform = { os, architecture, ...(typeof variant === 'string' && { variant }) };
  }
  if (isObject(annotations)) d.annotations = annotations as Record<string, string>;
  return d;
}

/**
 * Parses a manifest or an index. `contentType` is the registry's Content-Type, used when the
 * document itself has no `mediaType` (allowed for OCI). Schema 1 and unknown types are refused.
 */
export function parseManifestDocument(
  bytes: Buffer,
  contentType?: string,
): ImageIndex | ImageManifest {
  if (bytes.length > maxDocumentSize)
    throw new InvalidInputError(
      `manifest is ${bytes.length} bytes, more than the ${maxDocumentSize} allowed`,
    );
  const doc = parseJson(bytes, 'manifest');
  const header = contentType?.split(';')[0].trim();
  const mediaType =
    typeof doc.mediaType === 'string' ? doc.mediaType : header || mediaTypes.ociManifest;
  if (doc.schemaVersion !== 2)
    throw new InvalidInputError(
      `unsupported manifest schema version ${JSON.stringify(doc.schemaVersion)} (${JSON.stringify(mediaType)}); only schema 2 and OCI are supported`,
    );
  if (indexMediaTypes.includes(mediaType) || (doc.mediaType === undefined && 'manifests' in doc)) {
    if (!Array.isArray(doc.manifests)) throw new InvalidInputError('index has no manifests list');
    return {
      kind: 'index',
      mediaType,
      manifests: doc.manifests.map((m, i) => parseDescriptor(m, `index entry ${i}`)),
    };
  }
  if (!manifestMediaTypes.includes(mediaType))
    throw new InvalidInputError(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
  const config = parseDescriptor(doc.config, 'manifest config');
  // Refused before a byte of it is fetched: the registry's word is all we have yet.
  if (config.size > maxDocumentSize)
    throw new InvalidInputError(
      `image config ${config.digest} is ${config.size} bytes, more than the ${maxDocumentSize} allowed`,
    );
  if (!configMediaTypes.includes(config.mediaType))
    throw new InvalidInputError(
      `unsupported image config media type ${JSON.stringify(config.mediaType)} (not a container image)`,
    );
  if (!Array.isArray(doc.layers)) throw new InvalidInputError('manifest has no layers list');
  const layers = doc.layers.map((l, i) => parseDescriptor(l, `layer ${i}`));
  for (const l of layers)
    if (layerCompression(l.mediaType) === undefined)
      throw new InvalidInputError(
        `unsupported layer media type ${JSON.stringify(l.mediaType)} (layer ${l.digest})`,
      );
  return { kind: 'manifest', mediaType, config, layers };
}

function platformName(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * Picks the manifest for `platform` from an index. Attestation manifests (platform
 * unknown/unknown) are never picked. For amd64 a variant is ignored (v1…v4 all run).
 */
export function selectPlatform(
  index: ImageIndex,
  name: string,
  platform: Platform = defaultPlatform,
): Descriptor {
  const match = index.manifests.find(
    (m) =>
      m.platform?.os === platform.os &&
      m.platform.architecture === platform.architecture &&
      (platform.variant === undefined || m.platform.variant === platform.variant) &&
      manifestMediaTypes.includes(m.mediaType),
  );
  if (match) return match;
  const offered = index.manifests
    .filter((m) => m.platform && m.platform.os !== 'unknown')
    .map((m) => platformName(m.platform));
  throw new NotFoundError(
    `no matching manifest for ${platformName(platform)} in ${name} (it has: ${offered.join(', ') || 'none'})`,
  );
}

/** Parses an image config and checks it fits its manifest (one DiffID per layer). */
export function parseImageConfig(bytes: Buffer, layerCount: number): ImageConfig {
  if (bytes.length > maxDocumentSize)
    throw new InvalidInputError(
      `image config is ${bytes.length} bytes, more than the ${maxDocumentSize} allowed`,
    );
  const raw = parseJson(bytes, 'image config');
  const rootfs = raw.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids))
    throw new InvalidInputError('image config has no rootfs.diff_ids');
  const diffIds = rootfs.diff_ids.map((d) => parseDigest(d, 'layer diff_id'));
  if (diffIds.length !== layerCount)
    throw new InvalidInputError(
      `image config lists ${diffIds.length} layer diff_ids but the manifest has ${layerCount} layers`,
    );
  const os = typeof raw.os === 'string' ? raw.os : '';
  const architecture = typeof raw.architecture === 'string' ? raw.architecture : '';
  return { os, architecture, diffIds, raw };
}
