// A container's volume mounts on the host, for both backends. Each mount's source (a volume's
// directory, or a path inside it named by subPath) is bind-mounted at `<mountsDir>/<i>`; runc
// mounts that into the container, the vm backend has it on the pod VM's share (mountsDir is
// under it) and the agent binds it in the guest.
//
// A subPath is resolved without following any link: a volume a container can write may hold
// symlinks planted to reach the host. Each element is opened relative to the previous one's fd
// with O_NOFOLLOW (through /proc/self/fd/N, as openat would); a symlink met on the way refuses
// the mount. The bind comes from the final fd (/proc/PID/fd/N), so a link swapped in after the
// walk changes nothing: what is mounted is the inode that was checked.
import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidInput, unavailable } from '../errors.js';
import type { VolumeMount } from '../runtime.js';
import { isMounted } from './mounts.js';
import { execCommand as run } from '../../spawn/run-command.js';

/** Linux O_PATH: an fd that names an inode without opening it for I/O. */
const O_PATH = 0o10000000;

/** A subPath's elements; InvalidInput unless relative with no `..`. */
export function subPathElements(subPath: string): string[] {
  if (subPath.startsWith('/')) throw invalidInput(`subPath ${JSON.stringify(subPath)} is absolute`);
  const parts = subPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..'))
    throw invalidInput(`subPath ${JSON.stringify(subPath)} climbs out of its volume (..)`);
  return parts;
}

/** Checks what a mount asks before anything is touched (container-spec-check.ts). */
export function checkVolumeMount(m: VolumeMount): void {
  if (!m.source.startsWith('/'))
    throw invalidInput(`mount source ${JSON.stringify(m.source)} is not absolute`);
  if (!m.destination.startsWith('/') || m.destination.split('/').includes('..'))
    throw invalidInput(
      `mount destination ${JSON.stringify(m.destination)} is not a clean absolute path`,
    );
  if (m.destination.split('/').filter(Boolean).length === 0)
    throw invalidInput('a volume cannot be mounted on /');
  if (m.subPath !== undefined) subPathElements(m.subPath);
}

/**
 * Opens `subPath` under `root` (O_PATH) without following links; creates missing elements as
 * directories (as the kubelet does). The fd and whether it is a directory.
 */
export async function openSubPath(
  root: string,
  subPath: string,
): Promise<{ fd: FileHandle; isDir: boolean }> {
  const parts = subPathElements(subPath);
  let fd = await open(root, O_PATH | constants.O_DIRECTORY);
  let isDir = true;
  try {
    for (let i = 0; i < parts.length; i++) {
      if (!isDir)
        throw invalidInput(`subPath ${subPath}: ${parts.slice(0, i).join('/')} is not a directory`);
      const at = `/proc/self/fd/${fd.fd}/${parts[i]}`;
      let next: FileHandle;
      try {
        next = await open(at, O_PATH | constants.O_NOFOLLOW);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        // mkdir does not follow a link in its last element: a link planted meanwhile is EEXIST.
        await mkdir(at, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        next = await open(at, O_PATH | constants.O_NOFOLLOW);
      }
      const st = await next.stat();
      if (st.isSymbolicLink()) {
        await next.close();
        throw invalidInput(
          `subPath ${subPath}: ${parts.slice(0, i + 1).join('/')} is a symlink; a subPath may not pass through one`,
        );
      }
      await fd.close();
      fd = next;
      isDir = st.isDirectory();
    }
    return { fd, isDir };
  } catch (e) {
    await fd.close().catch(() => {});
    throw e;
  }
}

/** A mount prepared on the host: where it is bound and what it is. */
export interface PreparedMount {
  /** `<mountsDir>/<i>`. */
  hostPath: string;
  /** Its name under mountsDir ("0", "1", ...). */
  name: string;
  destination: string;
  readOnly: boolean;
  isDir: boolean;
}

/**
 * Binds every mount's source at `<mountsDir>/<i>`, after releasing what an earlier run left.
 * InvalidInput for a subPath that is refused; nothing stays mounted then.
 */
export async function prepareMounts(
  mounts: readonly VolumeMount[],
  mountsDir: string,
): Promise<PreparedMount[]> {
  await releaseMounts(mountsDir);
  if (mounts.length === 0) return [];
  await mkdir(mountsDir, { recursive: true, mode: 0o700 });
  const out: PreparedMount[] = [];
  try {
    for (const [i, m] of mounts.entries()) {
      const { fd, isDir } = await openSubPath(m.source, m.subPath ?? '');
      try {
        const target = join(mountsDir, String(i));
        if (isDir) await mkdir(target, { mode: 0o700 });
        else await writeFile(target, '', { mode: 0o600, flag: 'wx' });
        await run('mount', ['--bind', `/proc/${process.pid}/fd/${fd.fd}`, target]).catch(
          (e: { stderr?: string; message: string }) => {
            throw unavailable(
              `cannot mount ${m.source} for ${m.destination}: ${(e.stderr ?? e.message).trim()}`,
            );
          },
        );
        out.push({
          hostPath: target,
          name: String(i),
          destination: m.destination,
          readOnly: m.readOnly === true,
          isDir,
        });
      } finally {
        await fd.close();
      }
    }
    return out;
  } catch (e) {
    await releaseMounts(mountsDir).catch(() => {});
    throw e;
  }
}

/**
 * Unmounts what prepareMounts bound and removes mountsDir. Throws (Unavailable) if anything
 * stays mounted: a recursive removal must never reach into a volume.
 */
export async function releaseMounts(mountsDir: string): Promise<void> {
  const entries = await readdir(mountsDir).catch(() => [] as string[]);
  for (const e of entries) {
    const p = join(mountsDir, e);
    if (!(await isMounted(p))) continue;
    await run('umount', [p]).catch(() => run('umount', ['-l', p]).catch(() => undefined));
    if (await isMounted(p)) throw unavailable(`cannot unmount the volume at ${p}`);
  }
  await rm(mountsDir, { recursive: true, force: true });
}

export { mountedUnder } from './mounts.js';
