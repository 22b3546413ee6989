import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { overlayOptions, prepareRootfs, removeRootfs } from './rootfs.js';

const dirs = { upper: '/state/c/upper', work: '/state/c/work' };
const layer = (i: number) =>
  `/var/lib/vic/state/images/layers/l/${i.toString(16).padStart(20, '0')}`;

describe('overlayOptions', () => {
  it('names the layers top first, absolute while they fit in a page', () => {
    expect(overlayOptions([layer(2), layer(1)], dirs)).toEqual({
      options: `lowerdir=${layer(2)}:${layer(1)},upperdir=/state/c/upper,workdir=/state/c/work`,
    });
  });

  it('names many layers relative to their one directory, the mount running there', () => {
    const lowers = Array.from({ length: 120 }, (_, i) => layer(120 - i));
    const how = overlayOptions(lowers, dirs)!;
    expect(how.cwd).toBe('/var/lib/vic/state/images/layers/l');
    expect(how.options.length).toBeLessThan(4096);
    expect(how.options.startsWith(`lowerdir=${'0'.repeat(18)}78:`)).toBe(true);
  });

  it('gives up (the caller copies) when the layers cannot be named in one page', () => {
    const lowers = Array.from({ length: 300 }, (_, i) => layer(i));
    expect(overlayOptions(lowers, dirs)).toBeUndefined();
    const scattered = Array.from({ length: 60 }, (_, i) => `${layer(i)}/diff-of-a-long-name`);
    expect(overlayOptions(scattered, dirs)).toBeUndefined();
  });

  it('refuses paths overlay cannot be given (commas, colons) and an empty stack', () => {
    expect(overlayOptions(['/a,b'], dirs)).toBeUndefined();
    expect(overlayOptions(['/a:b'], dirs)).toBeUndefined();
    expect(overlayOptions([], dirs)).toBeUndefined();
  });
});

describe('prepareRootfs where overlay cannot be used', () => {
  it('copies the layers merged as overlay shows them (whiteouts, opaque directories)', async () => {
    // A comma in the path: overlay's options cannot name it, so the rootfs is a copy.
    const dir = mkdtempSync(join(tmpdir(), 'vic-rootfs-a,b-'));
    try {
      const [bottom, top] = [join(dir, 'bottom'), join(dir, 'top')];
      mkdirSync(join(bottom, 'etc'), { recursive: true });
      mkdirSync(join(bottom, 'data'), { recursive: true });
      writeFileSync(join(bottom, 'etc/gone'), 'x');
      writeFileSync(join(bottom, 'etc/kept'), 'k');
      writeFileSync(join(bottom, 'data/old'), 'o');
      mkdirSync(join(top, 'etc'), { recursive: true });
      mkdirSync(join(top, 'data'), { recursive: true });
      execFileSync('mknod', [join(top, 'etc/gone'), 'c', '0', '0']);
      execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(top, 'data')]);
      writeFileSync(join(top, 'data/new'), 'n');
      const dirs = {
        rootfs: join(dir, 'rootfs'),
        upper: join(dir, 'upper'),
        work: join(dir, 'work'),
      };
      expect(await prepareRootfs([top, bottom], dirs)).toBe('copy');
      expect(readdirSync(join(dirs.rootfs, 'etc'))).toEqual(['kept']);
      expect(readdirSync(join(dirs.rootfs, 'data'))).toEqual(['new']);
      expect(readFileSync(join(dirs.rootfs, 'data/new'), 'utf8')).toBe('n');
      await removeRootfs(dirs);
      expect(existsSync(dirs.rootfs)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
