// Writes the entries of one layer's tar into its directory (unpack.ts drives it). Nothing is
// ever written outside that directory (named the rootfs below). Every entry's parent path is
// resolved here, one component at a time with lstat, instead of letting the kernel follow links:
// - entry names with a `..` component are refused; absolute names are taken relative to the
//   rootfs (a leading `/` is the rootfs, as Docker and containerd read it);
// - a parent that is a symlink is followed only if its target is relative and stays inside the
//   rootfs; an absolute target (`evil -> /etc`) or one that climbs out (`../../..`) is refused
//   when an entry is written through it (creating such a symlink is fine: inside a container
//   it means a path of the container);
// - the entry itself replaces whatever is at its path (a symlink there is removed, not
//   followed), and files are created with O_EXCL;
// - hard links must name a path inside the rootfs, resolved by the same rules.
// Symlinks of the layers below are not followed: as in containerd, a path is the layer's own.
// Device nodes are created only when running as root (with mknod(1)); otherwise they are
// skipped with a note, as are extended attributes, which Node cannot set. A character device
// 0:0 in the tar is skipped too: in a layer directory it would read as a whiteout.
import { execFile } from 'node:child_process';
import {
  chmod,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readlink,
  rm,
  symlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ReadEntry } from 'tar';
import { InvalidInputError } from './errors.js';
import { lowerEntry, makeWhiteout, markOpaque } from './overlay-diff.js';

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';
const maxSymlinkHops = 40;
const run = promisify(execFile);

class EscapeError extends InvalidInputError {
  override name = 'EscapeError';
}

/**
 * Splits an entry name into components, refusing `..`. A leading `/` means the rootfs, as in
 * Docker and containerd (umoci writes the root as `/`), so absolute names stay inside too.
 */
export function entryComponents(name: string, refuse: (why: string) => Error): string[] {
  if (name.includes('\0')) throw refuse('NUL byte in name');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refuse('".." component');
  return parts;
}

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException)?.code === code;
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/** State of one layer application. */
export class LayerWriter {
  /** Directories whose times are set at the end (writing children changes them). */
  readonly dirTimes: { path: string; mtime: Date }[] = [];
  entries = 0;

  constructor(
    readonly root: string,
    readonly label: string,
    readonly doChown: boolean,
    readonly note: (s: string) => void,
    readonly lowers: readonly string[],
  ) {}

  refuse(entry: string, why: string): EscapeError {
    return new EscapeError(`${this.label}: entry ${JSON.stringify(entry)} refused: ${why}`);
  }

  /**
   * Resolves the directory made of `parts` inside the rootfs, creating missing directories
   * (mode 0755) and following only symlinks that stay inside. Returns its absolute path and
   * its components relative to the rootfs.
   */
  async resolveDir(parts: string[], entry: string): Promise<string> {
    const done: string[] = [];
    const todo = [...parts];
    let hops = 0;
    let lastLink = '';
    while (todo.length > 0) {
      const part = todo.shift()!;
      if (part === '.' || part === '') continue;
      if (part === '..') {
        // Only reachable through a symlink's target: climbing above the root is an escape.
        if (done.length === 0)
          throw this.refuse(
            entry,
            `it would be written through symlink ${lastLink}, which leads out of the rootfs`,
          );
        done.pop();
        continue;
      }
      const here = join(this.root, ...done, part);
      const st = await lstatOrUndefined(here);
      if (st === undefined) {
        await this.makeParent(here, [...done, part]);
        done.push(part);
      } else if (st.isDirectory()) {
        done.push(part);
      } else if (st.isSymbolicLink()) {
        if (++hops > maxSymlinkHops) throw this.refuse(entry, 'too many levels of symlinks');
        const target = await readlink(here);
        const shown = `${JSON.stringify([...done, part].join('/'))} -> ${JSON.stringify(target)}`;
        if (target.startsWith('/'))
          throw this.refuse(
            entry,
            `it would be written through symlink ${shown}, which points to an absolute path outside the rootfs`,
          );
        lastLink = shown;
        todo.unshift(...target.split('/'));
      } else {
        throw this.refuse(entry, `${JSON.stringify([...done, part].join('/'))} is not a directory`);
      }
    }
    return join(this.root, ...done);
  }

  /**
   * Creates a parent directory the tar does not list. In the merged view the upper layer's
   * directory is the one shown, so it takes the owner, mode and time of the directory the
   * layers below have there (0755 root when they have none), as containerd's mkparent does.
   */
  async makeParent(path: string, parts: string[]): Promise<void> {
    const below = await lowerEntry(this.lowers, parts);
    const st = below?.stat.isDirectory() ? below.stat : undefined;
    await mkdir(path, { mode: 0o755 });
    if (!st) return;
    if (this.doChown) await lchown(path, st.uid, st.gid);
    await chmod(path, st.mode & 0o7777);
    this.dirTimes.push({ path, mtime: st.mtime });
  }

  /** Removes whatever is at `path` (a symlink itself, never its target). */
  async clear(path: string, keepDirectory: boolean): Promise<void> {
    const st = await lstatOrUndefined(path);
    if (!st) return;
    if (keepDirectory && st.isDirectory()) return;
    await rm(path, { recursive: true, force: true });
  }

  async setMetadata(path: string, entry: ReadEntry, isSymlink: boolean): Promise<void> {
    if (this.doChown) await lchown(path, entry.uid ?? 0, entry.gid ?? 0);
    // After chown, which clears setuid/setgid: the mode is exactly the layer's.
    if (!isSymlink) await chmod(path, (entry.mode ?? 0o644) & 0o7777);
    const mtime = entry.mtime ?? new Date(0);
    await lutimes(path, entry.atime ?? mtime, mtime);
  }

  async apply(entry: ReadEntry): Promise<void> {
    this.entries++;
    const name = entry.path;
    const parts = entryComponents(name, (why) => this.refuse(name, why));
    if (parts.length === 0) {
      // The rootfs itself (`./`): its mode and owner belong to the runtime, not the layer.
      entry.resume();
      return;
    }
    const base = parts[parts.length - 1];
    const parent = await this.resolveDir(parts.slice(0, -1), name);
    const target = join(parent, base);
    if (entry.extended && Object.keys(entry.extended).some((k) => k.startsWith('SCHILY.xattr')))
      this.note(`${name}: extended attributes not applied`);

    if (base.startsWith(whiteoutPrefix)) {
      entry.resume();
      if (base === opaqueMarker) {
        await markOpaque(parent);
      } else if (!base.startsWith(`${whiteoutPrefix}${whiteoutPrefix}`)) {
        const hidden = base.slice(whiteoutPrefix.length);
        if (hidden === '' || hidden === '.' || hidden === '..' || hidden.includes('/'))
          throw this.refuse(name, 'whiteout of an invalid name');
        await this.clear(join(parent, hidden), false);
        await makeWhiteout(join(parent, hidden));
      }
      return;
    }

    switch (entry.type) {
      case 'Directory':
      case 'GNUDumpDir': {
        entry.resume();
        await this.clear(target, true);
        if (!(await lstatOrUndefined(target))) await mkdir(target, { mode: 0o700 });
        if (this.doChown) await lchown(target, entry.uid ?? 0, entry.gid ?? 0);
        await chmod(target, (entry.mode ?? 0o755) & 0o7777);
        this.dirTimes.push({ path: target, mtime: entry.mtime ?? new Date(0) });
        return;
      }
      case 'File':
      case 'OldFile':
      case 'ContiguousFile': {
        await this.clear(target, false);
        const fh = await open(target, 'wx', 0o600);
        try {
          for await (const chunk of entry) await fh.write(chunk as Buffer);
        } finally {
          await fh.close();
        }
        await this.setMetadata(target, entry, false);
        return;
      }
      case 'SymbolicLink': {
        entry.resume();
        await this.clear(target, false);
        await symlink(entry.linkpath ?? '', target);
        await this.setMetadata(target, entry, true);
        return;
      }
      case 'Link': {
        entry.resume();
        const linkName = entry.linkpath ?? '';
        const linkParts = entryComponents(linkName, (why) =>
          this.refuse(name, `hard link target ${JSON.stringify(linkName)}: ${why}`),
        );
        if (linkParts.length === 0) throw this.refuse(name, 'hard link to the rootfs itself');
        const linkParent = await this.resolveDir(linkParts.slice(0, -1), name);
        const source = join(linkParent, linkParts[linkParts.length - 1]);
        const st = await lstatOrUndefined(source);
        if (!st) {
          // A file of a layer below: overlay cannot link across layers, so this one gets a copy.
          const below = await lowerEntry(this.lowers, linkParts);
          if (!below)
            throw this.refuse(name, `hard link target ${JSON.stringify(linkName)} does not exist`);
          if (below.stat.isDirectory()) throw this.refuse(name, 'hard link to a directory');
          await this.clear(target, false);
          await run('cp', ['-a', '--reflink=auto', below.path, target]);
          this.note(`${name}: hard link to a lower layer's file, copied`);
          return;
        }
        if (st.isDirectory()) throw this.refuse(name, 'hard link to a directory');
        if (source === target) return;
        await this.clear(target, false);
        await link(source, target);
        return;
      }
      case 'CharacterDevice':
      case 'BlockDevice':
      case 'FIFO': {
        entry.resume();
        await this.clear(target, false);
        const mode = ((entry.mode ?? 0o644) & 0o7777).toString(8);
        const args =
          entry.type === 'FIFO'
            ? ['-m', mode, target, 'p']
            : [
                '-m',
                mode,
                target,
                entry.type === 'CharacterDevice' ? 'c' : 'b',
                String(entry.header.devmaj ?? 0),
                String(entry.header.devmin ?? 0),
              ];
        if (entry.type === 'CharacterDevice' && !entry.header.devmaj && !entry.header.devmin) {
          this.note(`${name}: character device 0:0 skipped (it would be an overlay whiteout)`);
          return;
        }
        if (entry.type !== 'FIFO' && process.getuid?.() !== 0) {
          this.note(`${name}: device node skipped (not running as root)`);
          return;
        }
        try {
          await run('mknod', args);
        } catch (e) {
          this.note(`${name}: ${entry.type} skipped (${(e as Error).message.split('\n')[0]})`);
          return;
        }
        await this.setMetadata(target, entry, false);
        return;
      }
      default:
        entry.resume();
        this.note(`${name}: entry of type ${entry.type} skipped`);
    }
  }
}
