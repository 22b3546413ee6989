// subPath resolution against a volume holding hostile links: a link anywhere on the way is
// refused, `..` never gets that far, and nothing is made outside the volume.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRuntimeError } from '../errors.js';
import { checkVolumeMount, openSubPath, subPathElements } from './volume-mounts.js';

let base: string;
let vol: string;
let outside: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'subpath-'));
  vol = join(base, 'vol');
  outside = join(base, 'outside');
  mkdirSync(join(vol, 'a', 'b'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(vol, 'a', 'file'), 'x');
  symlinkSync(outside, join(vol, 'abs-link'));
  symlinkSync('../outside', join(vol, 'rel-link'));
  symlinkSync('b', join(vol, 'a', 'inner-link')); // even one that stays inside is refused
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const refused = async (subPath: string) => {
  const e = await openSubPath(vol, subPath).then(
    async (r) => {
      await r.fd.close();
      return undefined;
    },
    (err: unknown) => err,
  );
  expect(isRuntimeError(e, 'InvalidInput'), subPath).toBe(true);
  return (e as Error).message;
};

describe('openSubPath', () => {
  it('opens directories and files inside the volume, making missing directories', async () => {
    for (const [p, dir] of [
      ['a/b', true],
      ['a/file', false],
      ['new/deeper', true],
      ['./a//b/', true],
    ] as const) {
      const r = await openSubPath(vol, p);
      expect(r.isDir, p).toBe(dir);
      await r.fd.close();
    }
    expect(readdirSync(join(vol, 'new'))).toEqual(['deeper']);
  });

  it('refuses a link on the way, wherever it points, and makes nothing outside', async () => {
    expect(await refused('abs-link')).toMatch(/abs-link is a symlink/);
    expect(await refused('abs-link/planted')).toMatch(/abs-link is a symlink/);
    expect(await refused('rel-link/x/y')).toMatch(/rel-link is a symlink/);
    expect(await refused('a/inner-link')).toMatch(/a\/inner-link is a symlink/);
    expect(await refused('a/file/below')).toMatch(/not a directory/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses .. and absolute subPaths before touching anything', async () => {
    expect(() => subPathElements('../x')).toThrow(/climbs out/);
    expect(() => subPathElements('a/../../x')).toThrow(/climbs out/);
    expect(() => subPathElements('/etc')).toThrow(/absolute/);
    expect(() => checkVolumeMount({ source: vol, destination: 'rel' })).toThrow(/not a clean/);
    expect(() => checkVolumeMount({ source: vol, destination: '/' })).toThrow(/on \//);
    expect(() => checkVolumeMount({ source: 'rel', destination: '/x' })).toThrow(/not absolute/);
  });
});
