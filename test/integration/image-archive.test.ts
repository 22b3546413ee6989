// Loading images without a registry: an OCI layout directory (built by umoci), a tar of it,
// and a `docker save` archive (written by skopeo's docker-archive transport).
import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/image/index.js';
import { buildBusyboxLayout } from './registry.js';

const run = promisify(execFile);
let work: string;
let layout: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vic-image-archive-'));
  layout = await buildBusyboxLayout(work);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const newStore = () => new ImageStore(mkdtempSync(join(work, 'state-')));

function expectBusybox(layers: string[]): void {
  expect(layers).toHaveLength(1); // busybox is one layer: its rootfs
  const [rootfs] = layers;
  expect(readFileSync(join(rootfs, 'bin/busybox')).equals(readFileSync('/bin/busybox'))).toBe(true);
  expect(lstatSync(join(rootfs, 'bin/sh')).isSymbolicLink()).toBe(true);
}

describe('load images from files', () => {
  it('an OCI layout directory, named by a reference when its ref.names are bare tags', async () => {
    const store = newStore();
    // The layout holds two images whose ref.names are bare tags: a reference is needed.
    await expect(store.load(layout)).rejects.toMatchObject({ kind: 'InvalidInput' });
    const single = join(work, 'single');
    await run('umoci', ['init', '--layout', single]);
    await run('skopeo', ['copy', '-q', `oci:${layout}:busybox`, `oci:${single}:busybox`]);
    const [loaded] = await store.load(single, { reference: 'local/busybox:oci' });
    expect(loaded.image.reference).toBe('docker.io/local/busybox:oci');
    expectBusybox(loaded.layers);
    expect((await store.get('local/busybox:oci')).manifestDigest).toBe(loaded.image.manifestDigest);
  });

  it('a tar of an OCI layout', async () => {
    const tarFile = join(work, 'layout.tar');
    await run('tar', ['-C', layout, '-cf', tarFile, '.']);
    const store = newStore();
    await expect(store.load(tarFile, { reference: 'x:y' })).rejects.toThrow(/holds 2 images/);
    const single = join(work, 'single2');
    await run('umoci', ['init', '--layout', single]);
    await run('skopeo', ['copy', '-q', `oci:${layout}:busybox`, `oci:${single}:busybox`]);
    const singleTar = join(work, 'single.tar');
    await run('tar', ['-C', single, '-cf', singleTar, '.']);
    const [loaded] = await store.load(singleTar, { reference: '127.0.0.1:5000/busybox:tar' });
    expectBusybox(loaded.layers);
  });

  it('a docker save archive, named by its RepoTags', async () => {
    const archive = join(work, 'saved.tar');
    await run('skopeo', [
      'copy',
      '-q',
      `oci:${layout}:busybox`,
      `docker-archive:${archive}:example.com/team/busybox:saved`,
    ]);
    const store = newStore();
    const [loaded] = await store.load(archive);
    expect(loaded.image.reference).toBe('example.com/team/busybox:saved');
    expectBusybox(loaded.layers);
  });

  it('refuses a file that is not an image archive, or a missing one', async () => {
    const junk = join(work, 'junk.tar');
    writeFileSync(junk, Buffer.alloc(4096, 'x'));
    await expect(newStore().load(junk)).rejects.toMatchObject({ kind: 'InvalidInput' });
    await expect(newStore().load(join(work, 'nope.tar'))).rejects.toMatchObject({
      kind: 'NotFound',
      message: `no such archive or directory: ${join(work, 'nope.tar')}`,
    });
  });
});
