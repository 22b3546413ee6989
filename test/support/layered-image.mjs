// Test and benchmark helper (not part of the build): an OCI layout of a many-layer image, made
// with umoci from Debian's busybox-static. Layer 1 is busybox; layers 2 to n-2 each add
// /layerN/data (random bytes, so compression does not hide the size); layer 2 also fills /data
// with files; the next to last layer deletes /layer3 (a whiteout), and the last makes /data
// opaque with one new file. So a container of it must show: /layerN/data for each N but 3,
// no /layer3, and /data holding `new` alone.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Builds `<dir>/layered` with image `layered` of `layers` layers (at least 5), `bytes` of
 * random data in each data layer. Returns the layout's path.
 */
export async function buildLayeredLayout(dir, { layers = 10, bytes = 1 << 20 } = {}) {
  if (layers < 5) throw new Error('a layered image needs at least 5 layers');
  const layout = join(dir, 'layered');
  const image = `${layout}:layered`;
  const src = (name) => {
    const d = join(dir, 'layer-src', name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', image]);
  const bb = src('busybox');
  mkdirSync(join(bb, 'bin'));
  copyFileSync('/bin/busybox', join(bb, 'bin/busybox'));
  for (const a of ['sh', 'ls', 'cat', 'wc', 'test', 'echo'])
    symlinkSync('busybox', join(bb, 'bin', a));
  await run('umoci', ['insert', '--image', image, bb, '/']);
  for (let n = 2; n <= layers - 2; n++) {
    const d = src(`layer${n}`);
    mkdirSync(join(d, `layer${n}`));
    writeFileSync(join(d, `layer${n}`, 'data'), randomBytes(bytes));
    if (n === 2) {
      mkdirSync(join(d, 'data'));
      for (const f of ['old-a', 'old-b']) writeFileSync(join(d, 'data', f), `${f}\n`);
    }
    await run('umoci', ['insert', '--image', image, d, '/']);
  }
  await run('umoci', ['insert', '--image', image, '--whiteout', '/layer3']);
  const opaque = src('opaque');
  writeFileSync(join(opaque, 'new'), 'new\n');
  await run('umoci', ['insert', '--image', image, '--opaque', opaque, '/data']);
  await run('umoci', [
    'config',
    '--image',
    image,
    '--os',
    'linux',
    '--architecture',
    'amd64',
    '--config.cmd',
    '/bin/sh',
  ]);
  return layout;
}
