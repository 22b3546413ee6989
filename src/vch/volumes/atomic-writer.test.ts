// The atomic writer on a real directory: the kubelet's layout, a swap that readers see whole,
// stale versions cleaned, bad payloads refused before anything changes, links not followed.
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPayload, MAX_PAYLOAD_BYTES, writeAtomically } from './atomic-writer.js';

let root: string;
let outside: string;
const f = (path: string, text: string, mode = 0o644) => ({ path, data: Buffer.from(text), mode });
const listing = () => readdirSync(root).sort();

beforeEach(() => {
  const base = mkdtempSync(join(tmpdir(), 'atomic-writer-'));
  root = join(base, 'vol');
  outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
});
afterEach(() => rmSync(join(root, '..'), { recursive: true, force: true }));

describe('writeAtomically', () => {
  it('lays out ..data, one timestamped dir and a link per top-level name', async () => {
    await writeAtomically(root, [f('a', 'A', 0o600), f('d/b', 'B')]);
    const names = listing();
    const versions = names.filter((n) => /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.[0-9a-f]+$/.test(n));
    expect(versions).toHaveLength(1);
    expect(names).toEqual(['..data', versions[0], 'a', 'd'].sort());
    expect(readlinkSync(join(root, '..data'))).toBe(versions[0]);
    expect(readlinkSync(join(root, 'a'))).toBe('..data/a');
    expect(readFileSync(join(root, 'd', 'b'), 'utf8')).toBe('B');
    expect(statSync(join(root, 'a')).mode & 0o777).toBe(0o600);
  });

  it('swaps to a new version whole: old names go, the old version is removed', async () => {
    await writeAtomically(root, [f('a', 'one'), f('gone', 'x')]);
    const first = readlinkSync(join(root, '..data'));
    await writeAtomically(root, [f('a', 'two'), f('new', 'y')]);
    const second = readlinkSync(join(root, '..data'));
    expect(second).not.toBe(first);
    expect(listing()).toEqual(['..data', second, 'a', 'new'].sort());
    expect(readFileSync(join(root, 'a'), 'utf8')).toBe('two');
  });

  it('a reader during rewrites sees one version or the other, never a mix', async () => {
    const version = (n: number) => [f('x', `v${n}`), f('y', `v${n}`)];
    await writeAtomically(root, version(0));
    let mixed = 0;
    let reads = 0;
    let done = false;
    const reader = (async () => {
      while (!done) {
        // Through ..data once, as a consumer that resolves the link first does.
        const dir = join(root, readlinkSync(join(root, '..data')));
        try {
          const x = readFileSync(join(dir, 'x'), 'utf8');
          const y = readFileSync(join(dir, 'y'), 'utf8');
          if (x !== y) mixed++;
          reads++;
        } catch {
          // that version was removed between the readlink and the read: no mix seen
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 1; i <= 30; i++) await writeAtomically(root, version(i));
    done = true;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(mixed).toBe(0);
    expect(readFileSync(join(root, 'x'), 'utf8')).toBe('v30');
  });

  it('cleans stale versions and a ..data_tmp a crash left', async () => {
    await writeAtomically(root, [f('a', '1')]);
    mkdirSync(join(root, '..2020_01_01_00_00_00.dead'));
    writeFileSync(join(root, '..2020_01_01_00_00_00.dead', 'a'), 'stale');
    symlinkSync('..2020_01_01_00_00_00.dead', join(root, '..data_tmp'));
    await writeAtomically(root, [f('a', '2')]);
    expect(listing().filter((n) => n.startsWith('..'))).toHaveLength(2);
    expect(listing()).not.toContain('..data_tmp');
  });

  it('refuses bad paths and modes before it changes anything', async () => {
    await writeAtomically(root, [f('a', 'kept')]);
    const before = listing();
    for (const [files, want] of [
      [[f('../x', '')], /starts with "\.\."/],
      [[f('a/../../x', '')], /"\.\." element/],
      [[f('/etc/passwd', '')], /absolute/],
      [[f('a//b', '')], /empty/],
      [[f('..data', '')], /starts with "\.\."/],
      [[f('', '')], /empty/],
      [[f('m', '', 0o1777)], /mode/],
      [[f('a', ''), f('a/b', '')], /under the file a/],
      [[f('p', ''), f('p', '')], /twice/],
    ] as [ReturnType<typeof f>[], RegExp][])
      await expect(writeAtomically(root, files)).rejects.toThrow(want);
    expect(() =>
      checkPayload([{ path: 'big', data: Buffer.alloc(MAX_PAYLOAD_BYTES + 1), mode: 0o644 }]),
    ).toThrow(/16 MiB/);
    expect(listing()).toEqual(before);
    expect(readFileSync(join(root, 'a'), 'utf8')).toBe('kept');
  });

  it('replaces a planted top-level link instead of writing through it', async () => {
    symlinkSync(join(outside, 'target'), join(root, 'a'));
    await writeAtomically(root, [f('a', 'inside')]);
    expect(readdirSync(outside)).toEqual([]);
    expect(lstatSync(join(root, 'a')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(root, 'a'))).toBe('..data/a');
    // ..data planted as a link out is replaced by rename, not followed.
    symlinkSync(outside, join(root, '..planted'));
    rmSync(join(root, '..data'));
    symlinkSync(outside, join(root, '..data'));
    await writeAtomically(root, [f('a', 'again')]);
    expect(readdirSync(outside)).toEqual([]);
    expect(readFileSync(join(root, 'a'), 'utf8')).toBe('again');
  });
});
