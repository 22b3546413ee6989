// A benchmark's scratch directory, gone at the end: whatever is still mounted under it (rootfs
// overlays, /dev/shm, volumes, netns files), deepest first, then the directory itself.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

/** Unmounts (lazily) everything under `dir`, deepest first. */
export function unmountUnder(dir) {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m === dir || m?.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
}

/** unmountUnder, then the directory goes. */
export function removeWork(dir) {
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
