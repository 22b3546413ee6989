// Helpers shared by the runtime tests (not part of the package's API).
import { spawnSync } from 'node:child_process';
import * as fsSync from 'node:fs';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defaultTetherPath, projectRoot } from '../../src/runtime/paths.js';
import type { ContainerSpec } from '../../src/runtime/runtime.js';

/**
 * A binary of tether/build.sh (`target`), built first when it is missing or older than any
 * file in tether/ but the other binary's own (`others`), so a test never runs a stale one.
 * Throws with the compiler's output when the build fails.
 */
export function ensureTetherBuild(
  target: 'tether' | 'agent',
  bin: string,
  others: (file: string) => boolean,
) {
  const src = join(projectRoot(), 'tether');
  const newest = Math.max(
    ...readdirSync(src)
      .filter((f) => !others(f))
      .map((f) => statSync(join(src, f)).mtimeMs),
  );
  if (existsSync(bin) && statSync(bin).mtimeMs >= newest) return bin;
  // Only this binary: the other is another build's business.
  const r = spawnSync('bash', [join(src, 'build.sh'), target], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(
      `tether/build.sh ${target} failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`,
    );
  return bin;
}

/** dist/tether/tether (the container's init), built first when missing or stale. */
export function ensureTether(): string {
  return ensureTetherBuild('tether', defaultTetherPath(), (f) => f.startsWith('agent'));
}

/**
 * A rootfs from Debian's busybox-static: /bin/busybox and a symlink per applet, /etc/passwd and
 * /etc/group with root, an "app" user (1000:1000, also in "staff" 50) and nobody. No registry.
 */
export function busyboxRootfs(dir: string): string {
  const { mkdirSync, copyFileSync, symlinkSync, writeFileSync, chmodSync } = fsSync;
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new Error('busybox-static is not installed (apt-get install busybox-static)');
  for (const d of ['bin', 'etc', 'tmp', 'root', 'home/app'])
    mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n');
  for (const a of applets) {
    if (a && a !== 'busybox' && !existsSync(join(dir, 'bin', a)))
      symlinkSync('busybox', join(dir, 'bin', a));
  }
  writeFileSync(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  writeFileSync(
    join(dir, 'etc/group'),
    'root:x:0:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n',
  );
  return dir;
}

/**
 * Compiles test/support/syscall-probe.c (static) into `<rootfs>/bin/syscall-probe`: a program
 * that prints the errno of two system calls the default seccomp profile refuses.
 */
export function addSyscallProbe(rootfs: string): void {
  const src = join(projectRoot(), 'test', 'support', 'syscall-probe.c');
  const out = join(rootfs, 'bin', 'syscall-probe');
  const r = spawnSync('gcc', ['-static', '-O1', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc syscall-probe.c failed: ${r.stderr}${r.stdout}`);
}

/**
 * Removes every runc container under `runcRoot` and unmounts everything under `dir`, then
 * deletes `dir`: test cleanup that works whatever state a failed test left behind.
 */
export function cleanupRuntimeDir(dir: string, runcRoot: string): void {
  const list = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' });
  for (const id of (list.stdout ?? '').split('\n').filter(Boolean)) {
    spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id]);
  }
  const mounts = fsSync
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && (m === dir || m.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  fsSync.rmSync(dir, { recursive: true, force: true });
}

/**
 * A container spec for the runtime tests: `args` on the image rootfs as root in /, PATH=/bin,
 * its log under `<dir>/logs/<id>/output.log`; `extra` overrides any of it.
 */
export function testContainerSpec(
  dir: string,
  imageRootfs: string,
  id: string,
  args: string[],
  extra: Partial<ContainerSpec> = {},
): ContainerSpec {
  return {
    id,
    name: `c-${id.slice(0, 6)}`,
    imageRootfs,
    process: { args, env: ['PATH=/bin'], cwd: '/', user: '' },
    logPath: join(dir, 'logs', id, 'output.log'),
    ...extra,
  };
}
