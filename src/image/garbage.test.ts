// Removing references and collecting what nothing reaches, on an image store filled from OCI
// layouts written here (two images sharing a base layer).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Digest, chainIds, digestHex, sha256Of } from './digest.js';
import { ImageStore } from './image-store.js';
import { mediaTypes } from './media-types.js';
import { tarArchive } from '../../test/support/tar.js';

let dir: string;
let store: ImageStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vic-gc-'));
  store = new ImageStore(join(dir, 'state'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Writes an OCI layout of one image with these layers (uncompressed tars) and loads it as
 * `name`. Images of one `label` and the same layers are the same image.
 */
async function loadImage(name: string, layers: Buffer[], label = name) {
  const layout = join(dir, `layout-${name.replace(/\W/g, '_')}`);
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer | string): Digest => {
    const d = sha256Of(b);
    writeFileSync(join(layout, 'blobs', 'sha256', digestHex(d)), b);
    return d;
  };
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['sh'], Labels: { label } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256Of(l)) },
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: { mediaType: mediaTypes.ociConfig, digest: put(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: mediaTypes.ociLayer, digest: put(l), size: l.length })),
  });
  const m = put(manifest);
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: mediaTypes.ociManifest, digest: m, size: manifest.length }],
    }),
  );
  const [result] = await store.load(layout, { reference: name });
  return { ...result, diffIds: layers.map((l) => sha256Of(l)) };
}

const base = tarArchive([{ name: 'bin/' }, { name: 'bin/sh', body: 'shell', mode: 0o755 }]);
const top = (s: string) => tarArchive([{ name: `etc/${s}`, body: s }]);

function blobNames(): string[] {
  return readdirSync(join(dir, 'state/images/blobs/sha256')).sort();
}
/** The layer snapshots (the store's short-name directory `l` left out). */
function snapshotNames(): string[] {
  return readdirSync(join(dir, 'state/images/layers'))
    .filter((n) => n !== 'l')
    .sort();
}
/** The snapshots' short names, which go with them. */
function linkNames(): string[] {
  return readdirSync(join(dir, 'state/images/layers/l')).sort();
}

describe('ImageStore removal and garbage collection', () => {
  it('frees what only the removed reference reached; a shared base stays', async () => {
    const a = await loadImage('reg.local/a:1', [base, top('a')]);
    const b = await loadImage('reg.local/b:1', [base, top('b')]);
    const [baseChain, aTop] = chainIds(a.diffIds);
    const bTop = chainIds(b.diffIds)[1];
    expect(snapshotNames()).toEqual([baseChain, aTop, bTop].map(digestHex).sort());
    expect(blobNames()).toHaveLength(7); // 2 manifests, 2 configs, 3 layers

    const removed = await store.removeReference('reg.local/a:1');
    expect(removed.chainId).toBe(aTop);
    await expect(store.get('reg.local/a:1')).rejects.toMatchObject({ kind: 'NotFound' });
    // Nothing is freed until a collection runs.
    expect(blobNames()).toHaveLength(7);
    const r = await store.collectGarbage();
    expect(r).toMatchObject({ removedBlobs: 3, removedSnapshots: 1 });
    expect(r.removedBlobBytes).toBeGreaterThan(top('a').length);
    // b's stack (its base is its snapshot's parent) and blobs stay, a's are gone.
    expect(snapshotNames()).toEqual([baseChain, bTop].map(digestHex).sort());
    expect(blobNames()).toEqual(
      [b.image.manifestDigest, b.image.configDigest, ...b.image.layers].map(digestHex).sort(),
    );
    expect(existsSync(join(b.layers[0], 'etc/b'))).toBe(true);
    expect(existsSync(join(b.layers[1], 'bin/sh'))).toBe(true);
    expect(linkNames()).toEqual([baseChain, bTop].map((c) => digestHex(c).slice(0, 20)).sort());
    // A second collection finds nothing more.
    expect(await store.collectGarbage()).toMatchObject({ removedBlobs: 0, removedSnapshots: 0 });
  });

  it('keeps the config and layers of an image a container uses, until it no longer does', async () => {
    const a = await loadImage('reg.local/a:1', [base, top('a')]);
    const stack = chainIds(a.diffIds).map(digestHex).sort();
    await store.removeReference('reg.local/a:1');
    const inUse = { imageIds: [a.image.configDigest] };
    await store.collectGarbage({ inUse: () => inUse });
    // The container's overlay stacks both layers: both stay.
    expect(snapshotNames()).toEqual(stack);
    expect(blobNames()).toEqual([digestHex(a.image.configDigest)]);
    expect(existsSync(join(a.layers[1], 'bin/sh'))).toBe(true);
    // Named by chain id instead (the top one), the stack stays too.
    await store.collectGarbage({ inUse: () => ({ chainIds: [a.image.chainId] }) });
    expect(snapshotNames()).toEqual(stack);
    expect(blobNames()).toEqual([]);
    await store.collectGarbage({ inUse: () => ({}) });
    expect(snapshotNames()).toEqual([]);
  });

  it("keeps the caller's own references (keep) as the index's", async () => {
    const a = await loadImage('reg.local/a:1', [base]);
    await store.removeReference('reg.local/a:1');
    await store.collectGarbage({ keep: () => [a.image] });
    expect(blobNames()).toHaveLength(3);
    expect(snapshotNames()).toEqual([digestHex(a.image.chainId)]);
  });

  it('an image reached by two references stays until both are removed', async () => {
    await loadImage('reg.local/a:1', [base], 'same');
    await loadImage('reg.local/a:latest', [base], 'same');
    await store.removeReference('reg.local/a:1');
    expect(await store.collectGarbage()).toMatchObject({ removedBlobs: 0, removedSnapshots: 0 });
    await store.removeReference('reg.local/a'); // normalized: reg.local/a:latest
    expect(await store.collectGarbage()).toMatchObject({ removedBlobs: 3, removedSnapshots: 1 });
  });

  it('removes what interrupted ingests and snapshot builds left', async () => {
    await loadImage('reg.local/a:1', [base]);
    writeFileSync(join(dir, 'state/images/blobs/ingest/half'), 'x');
    mkdirSync(join(dir, 'state/images/layers/.tmp-abc/diff'), { recursive: true });
    await store.collectGarbage();
    expect(readdirSync(join(dir, 'state/images/blobs/ingest'))).toEqual([]);
    expect(snapshotNames()).toHaveLength(1);
  });

  it('a layer shared by two images is one snapshot, gone only with the last image', async () => {
    const a = await loadImage('reg.local/a:1', [base, top('a')]);
    const b = await loadImage('reg.local/b:1', [base, top('b')]);
    expect(a.layers[1]).toBe(b.layers[1]);
    await store.removeReference('reg.local/a:1');
    await store.collectGarbage();
    expect(existsSync(join(b.layers[1], 'bin/sh'))).toBe(true);
    await store.removeReference('reg.local/b:1');
    expect(await store.collectGarbage()).toMatchObject({ removedSnapshots: 2 });
    expect(snapshotNames()).toEqual([]);
    expect(linkNames()).toEqual([]);
  });

  it("an older version's whole-rootfs snapshots: unpacked again as layers, kept while a container uses them", async () => {
    const a = await loadImage('reg.local/a:1', [base, top('a')]);
    // What an older version left: its snapshots dir, one whole rootfs per chain id.
    const legacy = join(dir, 'state/images/snapshots');
    for (const c of chainIds(a.diffIds))
      mkdirSync(join(legacy, digestHex(c), 'rootfs'), { recursive: true });
    rmSync(join(dir, 'state/images/layers'), { recursive: true });
    // The image's layers come back from its blobs when a container needs them.
    const layers = await store.layerDirs(a.image);
    expect(layers).toEqual(a.layers);
    expect(existsSync(join(layers[0], 'etc/a'))).toBe(true);
    // A container created by the older version runs on the legacy top rootfs: it stays.
    await store.collectGarbage({ inUse: () => ({ imageIds: [a.image.configDigest] }) });
    expect(readdirSync(legacy)).toEqual([digestHex(a.image.chainId)]);
    await store.collectGarbage({ inUse: () => ({}) });
    expect(existsSync(legacy)).toBe(false);
    expect(snapshotNames()).toEqual(chainIds(a.diffIds).map(digestHex).sort());
  });

  it('answers NotFound for a reference the index does not hold', async () => {
    await expect(store.removeReference('reg.local/nope:1')).rejects.toMatchObject({
      kind: 'NotFound',
      message: 'no such image: reg.local/nope:1',
    });
  });

  it('a collection waits for a load that is running', async () => {
    const order: string[] = [];
    const loading = loadImage('reg.local/a:1', [base, top('a')]).then(() => order.push('load'));
    // Started while the load runs: it must not see the load's blobs as unreachable.
    const collecting = store.collectGarbage().then(() => order.push('gc'));
    await Promise.all([loading, collecting]);
    expect(order).toEqual(['load', 'gc']);
    expect(blobNames()).toHaveLength(4);
    expect(snapshotNames()).toHaveLength(2);
  });
});
