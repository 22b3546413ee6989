// The media types a pull meets, and which of them this package can handle.

export const mediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export const indexMediaTypes: readonly string[] = [
  mediaTypes.ociIndex,
  mediaTypes.dockerManifestList,
];
export const manifestMediaTypes: readonly string[] = [
  mediaTypes.ociManifest,
  mediaTypes.dockerManifest,
];
export const configMediaTypes: readonly string[] = [mediaTypes.ociConfig, mediaTypes.dockerConfig];

/** How a layer blob is compressed, or undefined for a media type we cannot unpack. */
export function layerCompression(mediaType: string): 'gzip' | 'zstd' | 'none' | undefined {
  switch (mediaType) {
    case mediaTypes.ociLayer:
      return 'none';
    case mediaTypes.ociLayerGzip:
    case mediaTypes.ociLayerNondistributableGzip:
    case mediaTypes.dockerLayerGzip:
    case mediaTypes.dockerForeignLayerGzip:
      return 'gzip';
    case mediaTypes.ociLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

/** The Accept header of a manifest request: every kind of manifest and index we can resolve. */
export const manifestAccept = [...indexMediaTypes, ...manifestMediaTypes].join(', ');
