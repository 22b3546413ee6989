// Benchmark of layer-sharing snapshots: a many-layer image (test/support/layered-image.mjs:
// busybox, then layers of random data, a whiteout and an opaque directory) pushed to a real
// registry (Debian's docker-registry on loopback) and pulled into an empty image store, the
// VCH's own ImageStore: download, then each layer unpacked once into its own overlay diff.
//
//   npm run bench:layers        (VIC_BENCH_LAYERS=10, VIC_BENCH_LAYER_MIB=4; root, umoci, skopeo)
//
// Prints one table: layers, the layers' size (their tars, uncompressed), the disk
// the snapshots take now, the disk the older store's whole copy per snapshot took (measured by
// making those copies: each prefix of the stack merged into a directory of its own, as its
// `cp -a` of the parent did) and the pull+unpack time. Not a test: nothing passes or fails.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { createGunzip } from 'node:zlib';
import { join } from 'node:path';
import { ImageStore } from '../dist/image/index.js';
import { copyLayers } from '../dist/runtime/core/layer-copy.js';
import { buildLayeredLayout } from '../test/support/layered-image.mjs';

const layerCount = Number(process.env.VIC_BENCH_LAYERS ?? 10);
const mib = Number(process.env.VIC_BENCH_LAYER_MIB ?? 4);
const work = mkdtempSync(join(tmpdir(), 'vic-bench-layers-'));

const du = (dir) =>
  Number(execFileSync('du', ['-sD', '--block-size=1', dir], { encoding: 'utf8' }).split('\t')[0]);

/** The size of a layer's tar, uncompressed. */
async function tarBytes(store, digest) {
  let n = 0;
  for await (const chunk of (await store.blobs.open(digest)).pipe(createGunzip()))
    n += chunk.length;
  return n;
}
const fmtBytes = (n) => `${(n / (1 << 20)).toFixed(1)} MiB`;

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** docker-registry on loopback, storage in the work directory; resolves its host:port. */
async function startRegistry() {
  const host = `127.0.0.1:${await freePort()}`;
  const config = join(work, 'registry.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n` +
      `storage:\n  filesystem:\n    rootdirectory: ${join(work, 'registry')}\n` +
      `http:\n  addr: ${host}\n  secret: vic-kubelet-bench\n`,
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  for (let i = 0; i < 150; i++) {
    try {
      const res = await globalThis.fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      if (res.status === 200) return { host, child };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('docker-registry did not answer');
}

let registry;
try {
  const layout = await buildLayeredLayout(work, { layers: layerCount, bytes: mib << 20 });
  registry = await startRegistry();
  const ref = `${registry.host}/layered:bench`;
  execFileSync('skopeo', [
    'copy',
    '-q',
    '--dest-tls-verify=false',
    `oci:${layout}:layered`,
    `docker://${ref}`,
  ]);

  const state = join(work, 'state');
  const store = new ImageStore(state);
  const t0 = performance.now();
  const { image, layers } = await store.pull(ref);
  const pullMs = performance.now() - t0;
  let unpacked = 0;
  for (const d of image.layers) unpacked += await tarBytes(store, d);
  const after = du(join(state, 'images', 'layers'));

  // The older store: snapshot k was the whole rootfs of layers 1..k.
  const old = join(work, 'old-snapshots');
  const t1 = performance.now();
  for (let k = 1; k <= layers.length; k++) {
    const dir = join(old, String(k));
    mkdirSync(dir, { recursive: true });
    await copyLayers(layers.slice(layers.length - k), dir);
  }
  const copyMs = performance.now() - t1;
  const before = du(old);

  const row = {
    layers: image.layers.length,
    'layers (tar bytes)': fmtBytes(unpacked),
    'disk before (copy per snapshot)': fmtBytes(before),
    'disk after (shared layers)': fmtBytes(after),
    'after / layers': (after / unpacked).toFixed(2),
    'before / layers': (before / unpacked).toFixed(2),
    'pull+unpack': `${(pullMs / 1000).toFixed(2)} s`,
    'copies the older store added': `${(copyMs / 1000).toFixed(2)} s`,
  };
  console.table([row]);
} finally {
  registry?.child.kill();
  rmSync(work, { recursive: true, force: true });
}
