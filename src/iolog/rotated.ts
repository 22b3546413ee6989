// A log and its rotated files (output.log.N … output.log.1, output.log: the tether's rotation,
// tether/iolog-out.c) read as one log, oldest to newest: their concatenation. Every file starts
// and ends at an entry boundary and timestamps grow across files, so the query engine's seeks
// (binary search for since, backwards for tail) and its scan work over the concatenation as
// over one file, and a long line cut at 4095 bytes may go on in the next file.
//
// The writer rotates while we read: it renames the oldest away, every output.log.K to K+1 and
// output.log to .1, then puts a fresh output.log in place, so for a moment output.log does not
// exist. A listing is taken again until every name still names the file opened under it (a
// rotation in between changes them all); the open files are then ours whatever is renamed or
// deleted later. A follower at the end of its newest file learns that it was rotated when
// output.log is another file (or none), reads it to its final size, and goes on with the files
// that came after it.
import { readSync } from 'node:fs';
import { type FileHandle, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NotFoundError } from './errors.js';
import { openLog, type PositionalReader } from './fileio.js';

interface Part {
  name: string;
  fh: FileHandle | undefined; // undefined once released (wholly behind the reader)
  ino: number;
  dev: number;
  start: number; // offset of its first byte in the concatenation
  size: number;
}

/** The names of a log's rotated files and its own, oldest first: base.N … base.1, base. */
export function rotationNames(names: string[], base: string): string[] {
  const index = (n: string): number => {
    if (n === base) return 0;
    if (!n.startsWith(base + '.')) return -1;
    const k = n.slice(base.length + 1);
    return /^[1-9]\d{0,5}$/.test(k) ? Number(k) : -1;
  };
  return names
    .map((n) => ({ n, k: index(n) }))
    .filter((x) => x.k >= 0)
    .sort((a, b) => b.k - a.k)
    .map((x) => x.n);
}

export class RotatedLog implements PositionalReader {
  private pendingRotation = false;

  private constructor(
    private readonly path: string,
    private parts: Part[],
  ) {}

  /** Opens the log at `path` with its rotated files. NotFoundError when there is none of them. */
  static async open(path: string): Promise<RotatedLog> {
    // A listing the writer kept rotating under is still taken here: a one-shot read of what is
    // there (it may leave out the oldest files, as their deletion would).
    const { parts } = await listing(path);
    if (parts.length === 0) throw new NotFoundError(`log file ${path} does not exist`);
    return new RotatedLog(path, place(parts, 0));
  }

  /** Bytes of the whole log as last measured. */
  get size(): number {
    const last = this.parts[this.parts.length - 1];
    return last.start + last.size;
  }

  /**
   * The newest file was seen rotated but the files after it are not yet taken in (the writer
   * rotated under every listing): refresh again before taking the size as the end.
   */
  get behind(): boolean {
    return this.pendingRotation;
  }

  /** How many files the log was read from (for tests). */
  get files(): number {
    return this.parts.length;
  }

  /**
   * Measures the newest file again and, when it has been rotated, takes in the files after it.
   * Files wholly before `releaseBefore` (the reader is past them) are closed, so that a
   * long-running follower does not keep deleted files on the disk. Returns the size.
   */
  async refresh(releaseBefore = 0): Promise<number> {
    const last = this.parts[this.parts.length - 1];
    // The name first, then our file's size: once output.log is another file, the writer is done
    // with ours, so the size read after that is final.
    const current = await stat(this.path).catch(() => undefined);
    const rotated = !current || current.ino !== last.ino || current.dev !== last.dev;
    last.size = (await last.fh!.stat()).size;
    this.pendingRotation = false;
    if (rotated) {
      const { parts: list, whole } = await listing(this.path);
      if (!whole) {
        // Taking in files from a listing that is not one moment's could skip or repeat files.
        for (const p of list) await p.fh?.close();
        this.pendingRotation = true;
        return this.size;
      }
      const at = list.findIndex((p) => p.ino === last.ino && p.dev === last.dev);
      // Not found: our file was rotated out of existence before we got to the next one; what
      // was between is gone (as for the kubelet's own follower).
      const newer = list.slice(at + 1);
      for (const p of list.slice(0, at + 1)) await p.fh?.close();
      this.parts.push(...place(newer, this.size));
    }
    for (const p of this.parts.slice(0, -1)) {
      if (p.fh && p.start + p.size <= releaseBefore) {
        await p.fh.close();
        p.fh = undefined;
      }
    }
    return this.size;
  }

  async read(
    buf: Uint8Array,
    off: number,
    len: number,
    pos: number,
  ): Promise<{ bytesRead: number }> {
    const span = this.span(pos, len);
    if (!span) return { bytesRead: 0 };
    return span.fh.read(buf, off, span.len, span.at);
  }

  readSync(buf: Uint8Array, off: number, len: number, pos: number): number {
    const span = this.span(pos, len);
    return span ? readSync(span.fh.fd, buf, off, span.len, span.at) : 0;
  }

  async close(): Promise<void> {
    for (const p of this.parts) await p.fh?.close();
    this.parts = this.parts.slice(-1);
  }

  /** The file that holds `pos` and how much of `len` it has there; none at or past the end. */
  private span(pos: number, len: number): { fh: FileHandle; at: number; len: number } | undefined {
    for (const p of this.parts) {
      if (pos < p.start + p.size) {
        if (!p.fh) return undefined; // released: the caller has gone past it
        return { fh: p.fh, at: pos - p.start, len: Math.min(len, p.start + p.size - pos) };
      }
    }
    return undefined;
  }
}

/** Gives the parts their offsets in the concatenation, starting at `from`. */
function place(parts: Part[], from: number): Part[] {
  for (const p of parts) {
    p.start = from;
    from += p.size;
  }
  return parts;
}

/** The names of the log's files in its directory, oldest first. */
async function logNames(path: string): Promise<string[]> {
  try {
    return rotationNames(await readdir(dirname(path)), basename(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`log file ${path} does not exist`);
    throw err;
  }
}

/**
 * The log's files, oldest first, opened; a consistent listing (every name still names the file
 * opened under it), taken again while the writer rotates under us. `whole` is false when the
 * writer rotated under every attempt and these are the last attempt's files.
 */
async function listing(path: string): Promise<{ parts: Part[]; whole: boolean }> {
  const dir = dirname(path);
  for (let attempt = 0; ; attempt++) {
    const names = await logNames(path);
    const parts: Part[] = [];
    let moved = false;
    // Newest first: a rotation meanwhile moves files towards the names still to be opened.
    for (const name of [...names].reverse()) {
      let fh: FileHandle;
      try {
        fh = await openLog(join(dir, name));
      } catch (err) {
        if (!(err instanceof NotFoundError)) {
          for (const p of parts) await p.fh?.close();
          throw err;
        }
        moved = true; // renamed or deleted since the listing
        break;
      }
      const s = await fh.stat();
      parts.unshift({ name, fh, ino: s.ino, dev: s.dev, start: 0, size: s.size });
    }
    if (!moved) {
      const now = await Promise.all(
        parts.map((p) => stat(join(dir, p.name)).catch(() => undefined)),
      );
      moved = now.some((s, i) => !s || s.ino !== parts[i].ino || s.dev !== parts[i].dev);
    }
    // Every name still holding its file is not enough: a rotation between the readdir and the
    // opens shifts each file to the next name, so the old names open the files one rotation
    // later and the oldest file, now under a name not listed, is left out (the whole first file
    // when output.log was alone). Such a rotation leaves a new name (.N+1) behind; the names
    // read again after the checks above must be the same.
    if (!moved) {
      const again = await logNames(path);
      moved = again.length !== names.length || again.some((name, i) => name !== names[i]);
    }
    // A writer that rotates faster than we can list (tiny files) still gets an answer: the
    // last attempt's files, each whole, but some renamed meanwhile may be left out.
    if (!moved || attempt >= 20) return { parts, whole: !moved };
    for (const p of parts) await p.fh?.close();
    await new Promise((r) => setTimeout(r, 1));
  }
}
