// The writable layer's figures: du of the overlay's upper directory (or of a copy), links not
// followed, answers reused for a while.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { treeUsage } from './disk-usage.js';
import { LAYER_TTL_MS, layerUsage } from './layer.js';

describe('layer usage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'layer-'));
  const upper = join(dir, 'upper');
  const rootfs = join(dir, 'rootfs');
  mkdirSync(upper);
  mkdirSync(rootfs);
  writeFileSync(join(upper, 'a'), Buffer.alloc(64 * 1024, 1));
  symlinkSync('/', join(upper, 'root-link'));
  writeFileSync(join(rootfs, 'big'), Buffer.alloc(256 * 1024, 1));

  it('counts the upper directory of an overlay, the whole copy otherwise; links not followed', async () => {
    const overlay = await layerUsage('overlay', { rootfs, upper }, 0);
    expect(overlay.inodesUsed).toBe(3);
    expect(overlay.usedBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(overlay.usedBytes).toBeLessThan(256 * 1024);
    expect(overlay.capacityBytes).toBeGreaterThan(0);
    const copy = await layerUsage('copy', { rootfs, upper }, 0);
    expect(copy.usedBytes).toBeGreaterThanOrEqual(256 * 1024);
  });

  it('reuses an answer for a while, then walks again', async () => {
    const first = await layerUsage('overlay', { rootfs, upper }, 1_000_000);
    writeFileSync(join(upper, 'b'), Buffer.alloc(128 * 1024, 1));
    expect(await layerUsage('overlay', { rootfs, upper }, 1_000_000 + 1)).toEqual(first);
    const later = await layerUsage('overlay', { rootfs, upper }, 1_000_000 + LAYER_TTL_MS);
    expect(later.inodesUsed).toBe(first.inodesUsed + 1);
  });

  it('stops at its limit of entries', async () => {
    const many = join(dir, 'many');
    mkdirSync(many);
    for (let i = 0; i < 50; i++) writeFileSync(join(many, String(i)), '');
    expect((await treeUsage([many], 10)).inodes).toBe(10);
    expect((await treeUsage([join(dir, 'missing')])).inodes).toBe(0);
  });
});
