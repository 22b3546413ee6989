// A volume's usage: its content only (an empty volume takes nothing), a walk capped in entries
// (a container can make millions of files), the last figure answered at once while one walk at
// a time refreshes it (no sooner than 4× its duration), forgotten when the content is replaced.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VolumeUsage } from './volume-usage.js';

const dirs: string[] = [];
function volume(): string {
  const d = mkdtempSync(join(tmpdir(), 'vol-usage-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('VolumeUsage', () => {
  it('counts the content, not the directory itself, with the filesystem’s room', async () => {
    const d = volume();
    const empty = await new VolumeUsage().of('v', d);
    expect(empty).toMatchObject({ usedBytes: 0, inodesUsed: 0 });
    expect(empty.capacityBytes).toBeGreaterThan(0);
    expect(empty.availableBytes).toBeGreaterThan(0);
    mkdirSync(join(d, 'sub'));
    writeFileSync(join(d, 'sub', 'f'), Buffer.alloc(64 * 1024, 1));
    const full = await new VolumeUsage().of('v', d);
    expect(full.inodesUsed).toBe(2);
    expect(full.usedBytes).toBeGreaterThanOrEqual(64 * 1024);
  });

  it('stops at its cap of entries (a lower bound), however many files there are', async () => {
    const d = volume();
    for (let i = 0; i < 500; i++) writeFileSync(join(d, `f${i}`), '');
    const capped = await new VolumeUsage({ limit: 100 }).of('v', d);
    expect(capped.inodesUsed).toBeLessThanOrEqual(100);
    expect(capped.inodesUsed).toBeGreaterThan(0);
    expect((await new VolumeUsage().of('v', d)).inodesUsed).toBe(500);
  });

  it('answers the last figure at once and refreshes it behind, one walk at a time', async () => {
    const d = volume();
    let now = 1_000;
    const u = new VolumeUsage({ maxAgeMs: 5_000, now: () => now });
    const [a, b] = [u.of('v', d), u.of('v', d)];
    expect(a).toBe(b);
    expect((await a).inodesUsed).toBe(0);
    writeFileSync(join(d, 'f'), 'x');
    now += 4_000;
    expect((await u.of('v', d)).inodesUsed).toBe(0);
    now += 1_000;
    // Due: this ask still gets the last figure; the walk it started gives the next one.
    expect((await u.of('v', d)).inodesUsed).toBe(0);
    for (let i = 0; i < 100 && (await u.of('v', d)).inodesUsed === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await u.of('v', d)).inodesUsed).toBe(1);
    writeFileSync(join(d, 'g'), 'x');
    u.forget('v');
    expect((await u.of('v', d)).inodesUsed).toBe(2);
  });

  it('waits four times as long as a walk took before the next one', async () => {
    const d = volume();
    for (let i = 0; i < 50; i++) writeFileSync(join(d, `f${i}`), '');
    let now = 0;
    // Every read of the clock moves it 1 s on: the walk "takes" 1 s.
    const u = new VolumeUsage({ maxAgeMs: 1_000, now: () => (now += 1_000) });
    await u.of('v', d);
    writeFileSync(join(d, 'late'), '');
    // 4 s after the walk ended, not 1 s: still the old figure, no walk started.
    for (let i = 0; i < 2; i++) expect((await u.of('v', d)).inodesUsed).toBe(50);
    await new Promise((r) => setTimeout(r, 500));
    expect((await u.of('v', d)).inodesUsed).toBe(50);
  });

  it('firstFigure: a first walk that takes longer answers nothing yet, then the figure', async () => {
    const d = volume();
    for (let i = 0; i < 2000; i++) writeFileSync(join(d, `f${i}`), '');
    const u = new VolumeUsage();
    expect(await u.firstFigure('v', d, 0)).toBeUndefined();
    // The walk it started goes on; once it ends, no wait.
    await u.of('v', d);
    expect((await u.firstFigure('v', d, 0))?.inodesUsed).toBe(2000);
    expect((await new VolumeUsage().firstFigure('v', d, 60_000))?.inodesUsed).toBe(2000);
  });

  it('a volume whose directory is gone takes nothing', async () => {
    expect(await new VolumeUsage().of('v', join(volume(), 'gone'))).toMatchObject({
      usedBytes: 0,
      inodesUsed: 0,
    });
  });
});
