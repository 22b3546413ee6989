import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapped, readTextCapped } from './safe-read.js';

const dir = mkdtempSync(join(tmpdir(), 'safe-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readCapped', () => {
  it('reads a regular file, whole or up to the cap', async () => {
    writeFileSync(join(dir, 'f'), 'hello');
    expect(await readTextCapped(join(dir, 'f'), 5)).toBe('hello');
    expect(await readTextCapped(join(dir, 'f'), 4)).toBeUndefined();
    const r = await readCapped(join(dir, 'f'), 4);
    expect(r?.data.toString()).toBe('hell');
    expect(r?.truncated).toBe(true);
  });

  it('refuses a FIFO, a symlink, a directory and a missing file without blocking', async () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]); // nobody writes it: a plain read would hang
    symlinkSync('/dev/zero', join(dir, 'zero'));
    for (const f of ['fifo', 'zero', '.', 'missing'])
      expect(await readCapped(join(dir, f), 1 << 20)).toBeUndefined();
  });

  it('reads only the cap of a huge sparse file', async () => {
    writeFileSync(join(dir, 'big'), '');
    truncateSync(join(dir, 'big'), 1 << 30);
    const r = await readCapped(join(dir, 'big'), 4096);
    expect(r?.data.length).toBe(4096);
    expect(r?.truncated).toBe(true);
  });
});
