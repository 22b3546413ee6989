// The image store against a real registry (Debian's docker-registry on loopback) holding a
// busybox image built with umoci and pushed with skopeo: pull by tag and by digest, no
// download on a second pull, one download for two concurrent pulls, an index resolved to
// linux/amd64, a zstd layer, and the errors a user meets.
import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore, type PullProgress, mediaTypes, sha256Of } from '../../src/image/index.js';
import {
  buildBusyboxLayout,
  freePort,
  pushImage,
  type Registry,
  startRegistry,
} from './registry.js';

const run = promisify(execFile);
let work: string;
let registry: Registry;
let layout: string;

/** A fetch that records `METHOD /path` of every request, for counting downloads. */
function recordingFetch(log: string[]): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    log.push(`${init?.method ?? 'GET'} ${url.pathname}`);
    return fetch(input, init);
  };
}

function newStore(log: string[] = []): ImageStore {
  return new ImageStore(mkdtempSync(join(work, 'state-')), { fetch: recordingFetch(log) });
}

const blobGets = (log: string[]) =>
  log.filter((l) => l.startsWith('GET ') && l.includes('/blobs/'));
const manifestGets = (log: string[]) =>
  log.filter((l) => l.startsWith('GET ') && l.includes('/manifests/'));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vic-image-it-'));
  [registry, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  await pushImage(layout, 'busybox', `${registry.host}/busybox:test`);
  await pushImage(layout, 'busybox-arm', `${registry.host}/busybox:arm`);
});

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('pull from a real registry', () => {
  it('pulls by tag into a rootfs with a working /bin/busybox', async () => {
    const log: string[] = [];
    const store = newStore(log);
    const events: PullProgress[] = [];
    const { image, layers, fetchedBlobs } = await store.pull(`${registry.host}/busybox:test`, {
      onProgress: (e) => events.push(e),
    });
    expect(layers).toHaveLength(1); // busybox is one layer: its rootfs
    const [rootfs] = layers;
    expect(image.reference).toBe(`${registry.host}/busybox:test`);
    expect(image.layers).toHaveLength(1);
    expect(fetchedBlobs).toBe(3); // manifest, config, layer
    expect(readFileSync(join(rootfs, 'bin/busybox')).equals(readFileSync('/bin/busybox'))).toBe(
      true,
    );
    expect(lstatSync(join(rootfs, 'bin/busybox')).mode & 0o111).not.toBe(0);
    expect(readlinkSync(join(rootfs, 'bin/sh'))).toBe('busybox');
    expect(readlinkSync(join(rootfs, 'bin/ls'))).toBe('/bin/busybox');
    expect(readFileSync(join(rootfs, 'etc/hostname'), 'utf8')).toBe('busybox\n');
    const { stdout } = await run(join(rootfs, 'bin/busybox'), ['echo', 'hello from the image']);
    expect(stdout).toBe('hello from the image\n');

    const layerId = image.layers[0].slice(7, 19);
    const statuses = events.filter((e) => e.id === layerId).map((e) => e.status);
    expect(statuses[0]).toBe('Waiting');
    expect(statuses).toContain('Downloading');
    expect(statuses).toContain('Download complete');
    expect(statuses).toContain('Extracting');
    expect(statuses.at(-1)).toBe('Pull complete');
    const done = events.filter((e) => e.id === layerId && e.status === 'Downloading').at(-1);
    expect(done?.total).toBeGreaterThan(100_000);
    expect(blobGets(log)).toHaveLength(2);
    expect(await store.get(`${registry.host}/busybox:test`)).toEqual(image);

    // The second pull resolves the tag with HEAD and downloads nothing.
    log.length = 0;
    events.length = 0;
    const again = await store.pull(`${registry.host}/busybox:test`, {
      onProgress: (e) => events.push(e),
    });
    expect(again.fetchedBlobs).toBe(0);
    expect(again.image.manifestDigest).toBe(image.manifestDigest);
    expect(log).toEqual([`HEAD /v2/busybox/manifests/test`]);
    expect(events.find((e) => e.id === layerId)?.status).toBe('Already exists');
  });

  it('pulls an image whose layer is zstd (skopeo --dest-compress-format zstd)', async () => {
    // A registry of its own: skopeo would reuse the gzip layer it pushed to the shared one.
    const own = await startRegistry();
    try {
      const ref = `${own.host}/busybox:zstd`;
      await run('skopeo', [
        'copy',
        '-q',
        '--dest-tls-verify=false',
        '--dest-compress-format',
        'zstd',
        `oci:${layout}:busybox`,
        `docker://${ref}`,
      ]);
      const raw = await run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${ref}`,
      ]);
      const manifest = JSON.parse(raw.stdout) as { layers: { mediaType: string }[] };
      expect(manifest.layers.map((l) => l.mediaType)).toEqual([mediaTypes.ociLayerZstd]);
      const { image, layers } = await newStore().pull(ref);
      expect(layers).toHaveLength(1); // busybox is one layer: its rootfs
      const [rootfs] = layers;
      expect(image.layers).toHaveLength(1);
      expect(readFileSync(join(rootfs, 'bin/busybox')).equals(readFileSync('/bin/busybox'))).toBe(
        true,
      );
    } finally {
      await own.stop();
    }
  });

  it('pulls by digest, verifying the manifest against it', async () => {
    const first = await newStore().pull(`${registry.host}/busybox:test`);
    const digest = first.image.manifestDigest;
    const log: string[] = [];
    const store = newStore(log);
    const { image, layers } = await store.pull(`${registry.host}/busybox@${digest}`);
    expect(layers).toHaveLength(1); // busybox is one layer: its rootfs
    const [rootfs] = layers;
    expect(image.reference).toBe(`${registry.host}/busybox@${digest}`);
    expect(image.manifestDigest).toBe(digest);
    expect(manifestGets(log)).toEqual([`GET /v2/busybox/manifests/${digest}`]);
    expect(lstatSync(join(rootfs, 'bin/busybox')).isFile()).toBe(true);
    // By digest and already here: only a HEAD, which checks that this pull may have it.
    log.length = 0;
    await store.pull(`${registry.host}/busybox@${digest}`);
    expect(log).toEqual([`HEAD /v2/busybox/manifests/${digest}`]);
  });

  it('shares one download between two concurrent pulls of one image', async () => {
    const log: string[] = [];
    const store = newStore(log);
    const ref = `${registry.host}/busybox:test`;
    const [a, b] = await Promise.all([store.pull(ref), store.pull(ref)]);
    expect(a.layers).toEqual(b.layers);
    const gets = blobGets(log);
    expect(gets).toHaveLength(2); // config and layer, once each
    expect(new Set(gets).size).toBe(2);
    expect(lstatSync(join(a.layers[0], 'bin/busybox')).isFile()).toBe(true);
  });

  it('resolves an OCI image index to the linux/amd64 manifest', async () => {
    const store = newStore();
    const amd = await store.pull(`${registry.host}/busybox:test`);
    const arm = (await fetchManifest(`busybox`, 'arm')).bytes;
    const index = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociIndex,
      manifests: [
        {
          mediaType: mediaTypes.ociManifest,
          digest: sha256Of(arm),
          size: arm.length,
          platform: { os: 'linux', architecture: 'arm64' },
        },
        {
          mediaType: mediaTypes.ociManifest,
          digest: amd.image.manifestDigest,
          size: (await fetchManifest('busybox', 'test')).bytes.length,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    };
    const res = await fetch(`http://${registry.host}/v2/busybox/manifests/multi`, {
      method: 'PUT',
      headers: { 'content-type': mediaTypes.ociIndex },
      body: JSON.stringify(index),
    });
    expect(res.status, await res.text()).toBe(201);
    const { image } = await newStore().pull(`${registry.host}/busybox:multi`);
    expect(image.manifestDigest).toBe(amd.image.manifestDigest);
    expect(image.indexDigest).toBe(sha256Of(JSON.stringify(index)));
  });

  it('fails with one clear line and a kind for what a user gets wrong', async () => {
    const store = newStore();
    await expect(store.pull(`${registry.host}/busybox:nope`)).rejects.toMatchObject({
      kind: 'NotFound',
      message: `manifest ${registry.host}/busybox:nope not found in ${registry.host}`,
    });
    await expect(
      store.pull(`${registry.host}/nothing@sha256:${'1'.repeat(64)}`),
    ).rejects.toMatchObject({
      kind: 'NotFound',
      message: expect.stringMatching(/not found in .* \(MANIFEST_UNKNOWN: manifest unknown\)$/),
    });
    const closed = await freePort();
    await expect(store.pull(`127.0.0.1:${closed}/busybox:test`)).rejects.toMatchObject({
      kind: 'Unavailable',
      message: expect.stringMatching(
        new RegExp(`^cannot reach registry 127.0.0.1:${closed}: .*ECONNREFUSED`),
      ),
    });
    await expect(store.pull('UPPER/case')).rejects.toMatchObject({
      kind: 'InvalidInput',
      message: 'invalid reference format: "UPPER/case": repository name must be lowercase',
    });
  });
});

async function fetchManifest(repo: string, tag: string): Promise<{ bytes: Buffer }> {
  const res = await fetch(`http://${registry.host}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: mediaTypes.ociManifest },
  });
  return { bytes: Buffer.from(await res.arrayBuffer()) };
}
