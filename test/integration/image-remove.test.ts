// `docker rmi` frees the space: the real docker CLI against `vic-kubelet vch serve`, images
// from a real registry (Debian's docker-registry on loopback). After the last reference of an
// image goes, its blobs and its rootfs snapshot are gone from the state directory; a snapshot a
// container still runs on stays until the container goes.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let work: string;
let stateDir: string;
let registry: Registry;
let vch: VchProcess;
let one: string;
let two: string;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-image-remove-'));
  stateDir = join(work, 'state');
  let layout: string;
  [registry, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  one = `${registry.host}/busybox:1`;
  two = `${registry.host}/busybox:2`;
  await pushImage(layout, 'busybox', one);
  await pushImage(layout, 'busybox', two);
  vch = await startVch(stateDir, join(work, 'docker.sock'), ['--insecure-registry', registry.host]);
}, 120_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

/** docker with this VCH; fails the test with the CLI's stderr when it does not exit 0. */
async function ok(args: string[]): Promise<string> {
  const r = await vch.docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const ls = (sub: string) => {
  const d = join(stateDir, 'images', sub);
  return existsSync(d) ? readdirSync(d).filter((n) => !n.startsWith('.')) : [];
};
async function until(what: string, fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const blobs = () => ls('blobs/sha256');
// One snapshot per layer (the store's short names, `l`, left out).
const snapshots = () => ls('layers').filter((n) => n !== 'l');

describe('docker rmi on the VCH', () => {
  it('frees the blobs and the snapshot of an image whose last reference goes', async () => {
    await ok(['pull', one]);
    // manifest, config, one layer; one snapshot (busybox is one layer).
    expect(blobs()).toHaveLength(3);
    expect(snapshots()).toHaveLength(1);
    const out = await ok(['rmi', one]);
    expect(out).toContain(`Untagged: ${one}`);
    expect(out).toMatch(/Deleted: sha256:[0-9a-f]{64}/);
    expect(blobs()).toEqual([]);
    expect(snapshots()).toEqual([]);
    expect((await ok(['images', '-q'])).trim()).toBe('');
    // And it comes back whole: the layer is downloaded again.
    expect(await ok(['pull', one])).toMatch(/Pull complete/);
    expect(blobs()).toHaveLength(3);
    await ok(['rmi', one]);
    expect(blobs()).toEqual([]);
  });

  it('keeps what another reference still reaches', async () => {
    await ok(['pull', one]);
    await ok(['pull', two]);
    const first = await ok(['rmi', one]);
    expect(first).toContain(`Untagged: ${one}`);
    expect(first).not.toContain('Deleted');
    expect(blobs()).toHaveLength(3);
    expect(snapshots()).toHaveLength(1);
    expect(await ok(['run', '--rm', two, 'echo', 'still-here'])).toBe('still-here\n');
    await ok(['rmi', two]);
    expect(blobs()).toEqual([]);
    expect(snapshots()).toEqual([]);
  });

  it('never frees the snapshot a container runs on, even after rmi -f', async () => {
    await ok(['pull', one]);
    // It looks at its rootfs after the image's reference is gone.
    const script = 'sleep 2; ls /bin/busybox';
    await ok(['run', '-d', '--name', 'user', one, 'sh', '-c', script]);
    const refused = await vch.docker(['rmi', one]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('is using its referenced image');
    expect(blobs()).toHaveLength(3);
    // Forced: the reference goes, the container keeps its rootfs (and its image's config).
    expect(await ok(['rmi', '-f', one])).toContain(`Untagged: ${one}`);
    expect(snapshots()).toHaveLength(1);
    expect(blobs()).toHaveLength(1);
    await until('user to exit', async () => (await ok(['wait', 'user'])).trim() === '0');
    expect(await ok(['logs', 'user'])).toBe('/bin/busybox\n');
    // Stopped, it still has its rootfs: it starts again.
    await ok(['start', 'user']);
    await until('user to exit again', async () => (await ok(['wait', 'user'])).trim() === '0');
    expect(await ok(['logs', 'user'])).toBe('/bin/busybox\n/bin/busybox\n');
    // Removing the image's last user frees what it held (a collection in the background).
    await ok(['rm', '-f', 'user']);
    await until(
      'the container to free its image',
      async () => snapshots().length === 0 && blobs().length === 0,
    );
  });
});
