import { describe, expect, it } from 'vitest';
import { chainIds, sha256Of } from './digest.js';
import { parseImageConfig, parseManifestDocument, selectPlatform } from './manifest.js';
import { mediaTypes } from './media-types.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('parseManifestDocument', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: mediaTypes.dockerManifest,
    config: { mediaType: mediaTypes.dockerConfig, digest: d('1'), size: 10 },
    layers: [{ mediaType: mediaTypes.dockerLayerGzip, digest: d('2'), size: 20 }],
  };

  it('parses a Docker schema-2 manifest', () => {
    const m = parseManifestDocument(json(manifest));
    expect(m).toMatchObject({
      kind: 'manifest',
      config: { digest: d('1') },
      layers: [{ size: 20 }],
    });
  });

  it('takes the media type from Content-Type when the OCI document has none', () => {
    const bare: Partial<typeof manifest> = { ...manifest };
    delete bare.mediaType;
    const oci = {
      ...bare,
      config: { ...bare.config, mediaType: mediaTypes.ociConfig },
      layers: [{ mediaType: mediaTypes.ociLayer, digest: d('3'), size: 1 }],
    };
    expect(
      parseManifestDocument(json(oci), `${mediaTypes.ociManifest}; charset=utf-8`),
    ).toMatchObject({ kind: 'manifest', mediaType: mediaTypes.ociManifest });
  });

  it('refuses schema 1, unknown types, bad digests, unknown layer types and non-image configs', () => {
    expect(() => parseManifestDocument(json({ schemaVersion: 1, name: 'x' }))).toThrow(
      /unsupported manifest schema version 1/,
    );
    expect(() =>
      parseManifestDocument(json({ ...manifest, mediaType: 'application/vnd.foo+json' })),
    ).toThrow(/unsupported manifest media type "application\/vnd.foo\+json"/);
    expect(() =>
      parseManifestDocument(
        json({ ...manifest, config: { ...manifest.config, digest: 'sha256:xyz' } }),
      ),
    ).toThrow(/invalid manifest config digest/);
    expect(() =>
      parseManifestDocument(
        json({
          ...manifest,
          layers: [
            { mediaType: 'application/vnd.oci.image.layer.v1.tar+bzip2', digest: d('2'), size: 1 },
          ],
        }),
      ),
    ).toThrow(/unsupported layer media type/);
    expect(() =>
      parseManifestDocument(
        json({
          ...manifest,
          config: { ...manifest.config, mediaType: 'application/vnd.cncf.helm.config.v1+json' },
        }),
      ),
    ).toThrow(/not a container image/);
    expect(() => parseManifestDocument(Buffer.from('{nope'))).toThrow(/not valid JSON/);
  });

  it('resolves an index to linux/amd64, skipping attestations', () => {
    const index = parseManifestDocument(
      json({
        schemaVersion: 2,
        mediaType: mediaTypes.ociIndex,
        manifests: [
          {
            mediaType: mediaTypes.ociManifest,
            digest: d('a'),
            size: 1,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
          {
            mediaType: mediaTypes.ociManifest,
            digest: d('b'),
            size: 1,
            platform: { os: 'unknown', architecture: 'unknown' },
          },
          {
            mediaType: mediaTypes.ociManifest,
            digest: d('c'),
            size: 1,
            platform: { os: 'linux', architecture: 'amd64' },
          },
        ],
      }),
    );
    if (index.kind !== 'index') throw new Error('not an index');
    expect(selectPlatform(index, 'x').digest).toBe(d('c'));
    const armOnly = { ...index, manifests: index.manifests.slice(0, 2) };
    expect(() => selectPlatform(armOnly, 'reg/x:1')).toThrow(
      'no matching manifest for linux/amd64 in reg/x:1 (it has: linux/arm64/v8)',
    );
  });
});

describe('parseImageConfig and chain IDs', () => {
  it('needs one diff_id per layer', () => {
    const config = json({
      os: 'linux',
      architecture: 'amd64',
      rootfs: { type: 'layers', diff_ids: [d('1')] },
    });
    expect(parseImageConfig(config, 1).diffIds).toEqual([d('1')]);
    expect(() => parseImageConfig(config, 2)).toThrow(
      /lists 1 layer diff_ids but the manifest has 2/,
    );
  });

  it('computes OCI chain IDs', () => {
    const a = d('1') as `sha256:${string}`;
    const b = d('2') as `sha256:${string}`;
    expect(chainIds([a, b])).toEqual([a, sha256Of(`${a} ${b}`)]);
  });
});
