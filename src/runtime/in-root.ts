// Paths inside a container's rootfs, resolved as the container would see them: symlinks are
// followed relative to the rootfs, and ".." or an absolute link never leaves it. An image is
// untrusted input: a layer's /etc/passwd may be a symlink to the host's, a WorkingDir may
// traverse a link to /; reading or creating through such a path must stay in the rootfs.
import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readTextCapped } from './core/safe-read.js';

const MAX_LINKS = 40; // as the kernel's ELOOP limit

/**
 * The host path of `path` in `root`, every symlink on the way resolved within root. The last
 * component need not exist (then the path it would have).
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    let st;
    try {
      st = await lstat(host);
    } catch {
      // Missing: the rest cannot be links; it resolves lexically.
      done.push(part);
      continue;
    }
    if (!st.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw new Error(`too many symlinks resolving ${path}`);
    const target = await readlink(host);
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return join(root, ...done);
}

/** Files read from a rootfs (/etc/passwd, /etc/group) are small; a bigger one is refused. */
const IN_ROOT_CAP = 4 << 20;

/**
 * Reads a file of the rootfs, or undefined when it does not exist, is not a regular file or is
 * over 4 MiB. The rootfs is the image's and the container's: the file may be a FIFO or a
 * symlink swapped in after the resolution, so it is read without blocking or following one.
 */
export async function readInRoot(root: string, path: string): Promise<string | undefined> {
  try {
    return await readTextCapped(await resolveInRoot(root, path), IN_ROOT_CAP);
  } catch {
    return undefined;
  }
}

/**
 * Creates a directory (and its parents) inside the rootfs, owned by uid:gid when it is new,
 * as Docker creates a missing working directory. Each level is resolved afresh, so a link met
 * on the way is followed within the rootfs.
 */
export async function mkdirInRoot(
  root: string,
  path: string,
  owner?: { uid: number; gid: number },
): Promise<void> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let prefix = '';
  for (const part of parts) {
    prefix += '/' + part;
    const host = await resolveInRoot(root, prefix);
    try {
      const st = await lstat(host);
      if (!st.isDirectory()) throw new Error(`${prefix} exists and is not a directory`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // Every component of `host` was resolved above as an existing non-link or a missing
      // name, so creating the missing ones cannot follow a link out of the rootfs (nothing runs
      // in the rootfs yet to swap one in).
      await mkdir(host, { recursive: true, mode: 0o755 });
      if (owner) {
        const { chown } = await import('node:fs/promises');
        await chown(host, owner.uid, owner.gid);
      }
    }
  }
}
