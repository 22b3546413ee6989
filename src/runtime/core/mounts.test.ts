// The shared mount table: a check sees every mount made before it was asked, even when many
// checks share one read of /proc/self/mountinfo.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMounted, mountedUnder } from './mounts.js';

const root = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'mounts test-'));
afterAll(() => {
  try {
    execFileSync('umount', [join(dir, 'a b')], { stdio: 'ignore' });
  } catch {}
  rmSync(dir, { recursive: true, force: true });
});

describe('isMounted / mountedUnder', () => {
  it('knows the host mounts and what is not one', async () => {
    expect(await isMounted('/proc')).toBe(true);
    expect(await isMounted(dir)).toBe(false);
    expect(await mountedUnder('/')).toBe(true);
    expect(await mountedUnder(dir)).toBe(false);
  });

  it.runIf(root)(
    'sees a mount made just before (a path with a space), in a batch of checks',
    async () => {
      const target = join(dir, 'a b');
      mkdirSync(target);
      const before = await Promise.all([isMounted(target), mountedUnder(dir), isMounted('/proc')]);
      expect(before).toEqual([false, false, true]);
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', target]);
      const after = await Promise.all([isMounted(target), mountedUnder(dir), isMounted(dir)]);
      expect(after).toEqual([true, true, false]);
      execFileSync('umount', [target]);
      expect(await isMounted(target)).toBe(false);
    },
  );
});
