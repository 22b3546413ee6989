import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gzipBomb } from '../../test/support/layer-bomb.js';
import { chunked, type TarSpec, tarArchive } from '../../test/support/tar.js';
import { InvalidInputError } from './errors.js';
import {
  LAYER_RATIO_FLOOR_BYTES,
  MAX_LAYER_RATIO,
  parseMaxLayerExpansion,
} from './layer-limits.js';
import { applyLayer } from './unpack.js';

let dir: string;
let root: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vic-limits-'));
  root = join(dir, 'rootfs');
  mkdirSync(root);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes written under the rootfs. */
function written(): number {
  return readdirSync(root, { recursive: true })
    .map((n) => statSync(join(root, String(n))))
    .reduce((s, st) => s + (st.isFile() ? st.size : 0), 0);
}

describe('layer limits', () => {
  it('refuses a 10 GiB gzip bomb after at most the ratio floor, with the defaults', async () => {
    const started = Date.now();
    const err = await applyLayer(root, gzipBomb(10 * 1024 ** 3), {
      compression: 'gzip',
      name: 'sha256:bomb',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(
      /^layer sha256:bomb expands more than 100 times \(256\.\d+ MiB from \d+(\.\d)? KiB compressed so far\): refused as a decompression bomb$/,
    );
    expect(written()).toBeLessThanOrEqual(LAYER_RATIO_FLOOR_BYTES);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('refuses a layer past its uncompressed byte limit, compressed or not', async () => {
    const tar = tarArchive([{ name: 'big', body: Buffer.alloc(3 << 20, 7) }]);
    for (const gzip of [false, true]) {
      const err = await applyLayer(root, chunked(gzip ? gzipSync(tar) : tar, 64 << 10), {
        compression: gzip ? 'gzip' : 'none',
        name: 'sha256:big',
        limits: { maxBytes: 2 << 20 },
      }).catch((e: unknown) => e);
      expect((err as Error).message).toBe(
        'layer sha256:big is larger than 2 MiB uncompressed: refused',
      );
    }
  });

  it('refuses a layer with more entries than its limit, and takes one at the limit', async () => {
    const entries = (n: number): TarSpec[] =>
      Array.from({ length: n }, (_, i) => ({ name: `f${i}`, body: 'x' }));
    const ok = await applyLayer(root, chunked(tarArchive(entries(10))), {
      compression: 'none',
      limits: { maxEntries: 10 },
    });
    expect(ok.entries).toBe(10);
    rmSync(root, { recursive: true });
    mkdirSync(root);
    const err = await applyLayer(root, chunked(tarArchive(entries(11))), {
      compression: 'none',
      name: 'sha256:many',
      limits: { maxEntries: 10 },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('layer sha256:many has more than 10 entries: refused');
  });

  it('takes a highly compressible layer below the ratio floor, and one with the ratio off', async () => {
    const tar = tarArchive([{ name: 'zeros', body: Buffer.alloc(8 << 20) }]);
    const small = await applyLayer(root, Readable.from([gzipSync(tar)]), {
      compression: 'gzip',
      limits: { ratioFloorBytes: 16 << 20 },
    });
    expect(small.entries).toBe(1);
    rmSync(root, { recursive: true });
    mkdirSync(root);
    const off = await applyLayer(root, Readable.from([gzipSync(tar)]), {
      compression: 'gzip',
      limits: { ratioFloorBytes: 1 << 20, maxRatio: 0 },
    });
    expect(off.entries).toBe(1);
  });
});

describe('--max-layer-expansion', () => {
  it('takes a whole ratio of at least 2, or 0 for none; absent, the default', () => {
    expect(parseMaxLayerExpansion(undefined)).toBeUndefined();
    expect(parseMaxLayerExpansion('1000')).toBe(1000);
    expect(parseMaxLayerExpansion(' 2 ')).toBe(2);
    expect(parseMaxLayerExpansion('0')).toBe(0);
    expect(MAX_LAYER_RATIO).toBe(100);
  });

  it('refuses anything else in one line, with InvalidInput', () => {
    for (const bad of ['1', '-5', '2.5', '1e3', 'lots', '', '9999999999'])
      expect(() => parseMaxLayerExpansion(bad), bad).toThrow(
        `--max-layer-expansion ${JSON.stringify(bad)}: want a whole number of at least 2`,
      );
    expect(() => parseMaxLayerExpansion('1')).toThrow(InvalidInputError);
  });
});
