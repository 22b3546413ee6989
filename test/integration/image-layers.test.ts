// Snapshots that share layers, as a docker user meets them on `vic-kubelet vch serve`: a
// 10-layer image built here (umoci) and pushed to a real registry is pulled, each layer unpacked
// once into its own overlay diff; a container of it, on runc and in a pod VM, sees every layer's
// file, not the one a later layer deleted, and only the new content of a directory a later
// layer made opaque. The snapshots take about the layers' size on disk, not ten times it; a
// second image sharing the first's base layers adds only its own layer.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLayeredLayout } from '../support/layered-image.mjs';
import { ensureAgent, killQemus, waitNoQemu } from '../support/vm.js';
import { type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import { pushImage, type Registry, startRegistry } from './registry.js';

const LAYERS = 10;
const BYTES = 2 << 20; // random data per data layer

let work: string;
let stateDir: string;
let layout: string;
let registry: Registry;
let vch: VchProcess;
let image: string;

async function ok(args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await vch.docker(args, { timeoutMs });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Disk used by a directory, in bytes (du: blocks, hard links once). */
const du = (dir: string) =>
  Number(execFileSync('du', ['-s', '--block-size=1', dir], { encoding: 'utf8' }).split('\t')[0]);

/** The sizes of the image's layer blobs in the layout (random data: gzip keeps its size). */
function layerBlobBytes(): number {
  const index = JSON.parse(execFileSync('cat', [join(layout, 'index.json')], { encoding: 'utf8' }));
  const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice('sha256:'.length));
  const desc = index.manifests.find(
    (m: { annotations?: Record<string, string> }) =>
      m.annotations?.['org.opencontainers.image.ref.name'] === 'layered',
  );
  const manifest = JSON.parse(execFileSync('cat', [blob(desc.digest)], { encoding: 'utf8' }));
  expect(manifest.layers).toHaveLength(LAYERS);
  return manifest.layers.reduce(
    (n: number, l: { digest: string }) => n + statSync(blob(l.digest)).size,
    0,
  );
}

const layerSnapshots = () =>
  readdirSync(join(stateDir, 'images', 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));

// What a container of the image prints: each layer's file, the deleted one, the opaque dir.
const probe = [
  'for n in 2 3 4 5 6 7 8; do test -f /layer$n/data && echo layer$n:$(wc -c < /layer$n/data); done',
  'test -e /layer3 && echo layer3:present || echo layer3:absent',
  'echo data:$(ls /data)',
].join('; ');
const expectedOf = (bytes: number) => [
  ...[2, 4, 5, 6, 7, 8].map((n) => `layer${n}:${bytes}`),
  'layer3:absent',
  'data:new',
];
const expected = expectedOf(BYTES);

async function runProbe(name: string, runtime: 'runc' | 'vm', ref = image): Promise<string[]> {
  await ok(['run', '-d', '--name', name, '--runtime', runtime, ref, 'sh', '-c', probe]);
  expect((await ok(['wait', name], 240_000)).trim()).toBe('0');
  return (await ok(['logs', name])).split('\n').filter((l) => l !== '');
}

/** The lower directories of the overlays mounted under the state directory. */
const overlayLowers = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(stateDir) && l.includes(' - overlay '))
    .map((l) => /lowerdir=([^,]*)/.exec(l)?.[1].split(':') ?? []);

beforeAll(async () => {
  ensureBuilt();
  ensureAgent();
  work = mkdtempSync(join(tmpdir(), 'vic-image-layers-'));
  stateDir = join(work, 'state');
  [registry, layout] = await Promise.all([
    startRegistry(),
    buildLayeredLayout(work, { layers: LAYERS, bytes: BYTES }),
  ]);
  image = `${registry.host}/layered:1`;
  await pushImage(layout, 'layered', image);
  vch = await startVch(stateDir, join(work, 'docker.sock'), ['--insecure-registry', registry.host]);
}, 180_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  if (work) {
    killQemus(work);
    waitNoQemu(work);
  }
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 90_000);

describe('a 10-layer image on layer-sharing snapshots', () => {
  it('pulls into one snapshot per layer, about the layers’ size on disk', async () => {
    await ok(['pull', image]);
    expect(layerSnapshots()).toHaveLength(LAYERS);
    const layers = layerBlobBytes();
    const used = du(join(stateDir, 'images', 'layers'));
    // One copy of each layer (plus directories and block rounding), where whole copies per
    // snapshot took about six times the data here (snapshot k held the data of layers 1..k).
    expect(used).toBeGreaterThan(0.9 * layers);
    expect(used).toBeLessThan(1.3 * layers);
  }, 180_000);

  it('runs on runc: every layer visible, a deleted one absent, an opaque directory replaced', async () => {
    expect(await runProbe('on-runc', 'runc')).toEqual(expected);
    // Its rootfs is an overlay of the ten layer directories, not a copy of them.
    expect(overlayLowers().map((l) => l.length)).toContain(LAYERS);
  }, 180_000);

  it('runs in a pod VM the same', async () => {
    expect(await runProbe('on-vm', 'vm')).toEqual(expected);
  }, 300_000);

  it('a second image on the same base adds only its own layer', async () => {
    // The same stack with one more layer on top: nine layers shared, one snapshot more.
    execFileSync('umoci', ['tag', '--image', `${layout}:layered`, 'layered-plus']);
    execFileSync('umoci', ['insert', '--image', `${layout}:layered-plus`, '--whiteout', '/layer2']);
    await pushImage(layout, 'layered-plus', `${registry.host}/layered:plus`);
    const before = du(join(stateDir, 'images', 'layers'));
    await ok(['pull', `${registry.host}/layered:plus`]);
    expect(layerSnapshots()).toHaveLength(LAYERS + 1);
    expect(du(join(stateDir, 'images', 'layers')) - before).toBeLessThan(64 << 10);
  }, 180_000);

  it('an image of 60 layers: its overlay names them relative to the store, in one page', async () => {
    const many = await buildLayeredLayout(join(work, 'many'), { layers: 60, bytes: 1024 });
    await pushImage(many, 'layered', `${registry.host}/many:1`);
    await ok(['pull', `${registry.host}/many:1`]);
    expect(await runProbe('many', 'runc', `${registry.host}/many:1`)).toEqual(expectedOf(1024));
    // Absolute paths would take more than the page the kernel reads: short names instead.
    const sixty = overlayLowers().find((l) => l.length === 60);
    expect(sixty?.every((d) => /^[0-9a-f]{20}$/.test(d))).toBe(true);
  }, 300_000);
});
