// OCI images: distribution client, content store, snapshots. Imports nothing of the project.
export * from './errors.js';
export * from './digest.js';
export * from './reference.js';
export * from './media-types.js';
export * from './manifest.js';
export * from './content-store.js';
export * from './auth.js';
export * from './registry-client.js';
export * from './unpack.js';
export * from './snapshot-store.js';
export * from './image-index.js';
export * from './image-store.js';
export * from './garbage.js';
export * from './archive.js';
export * from './legacy-snapshots.js';
export * from './overlay-diff.js';
