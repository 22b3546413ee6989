// Opening log files with clear errors, and positioned reads that fill what they can.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { InvalidInputError, NotFoundError } from './errors.js';

/** What positioned reads need: one file, or a log with its rotated files (rotated.ts). */
export interface PositionalReader {
  read(buf: Uint8Array, off: number, len: number, pos: number): Promise<{ bytesRead: number }>;
  readSync(buf: Uint8Array, off: number, len: number, pos: number): number;
}

/** Reads up to `len` bytes at file position `pos` into buf[off…]; fewer only at end of file. */
export async function readAt(
  fh: PositionalReader,
  buf: Uint8Array,
  off: number,
  len: number,
  pos: number,
): Promise<number> {
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, off + got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * Opens a log file for reading; a missing file, a directory or no permission is a clear error.
 * A log's directory is written by the tether, which runs inside the container, so the VCH's
 * reads take only a regular file at the name itself: not a symbolic link (which could point
 * anywhere on the host), not a FIFO or device (opened without blocking, then refused). A person
 * naming a file on the command line (`vic-kubelet iolog read`) may name it through a link.
 */
export async function openLog(
  path: string,
  o: { followLinks?: boolean } = {},
): Promise<FileHandle> {
  let fh: FileHandle;
  const flags =
    constants.O_RDONLY | constants.O_NONBLOCK | (o.followLinks ? 0 : constants.O_NOFOLLOW);
  try {
    fh = await open(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`log file ${path} does not exist`);
    if (code === 'EISDIR') throw new InvalidInputError(`log file ${path} is a directory`);
    if (code === 'ELOOP')
      throw new InvalidInputError(`log file ${path} is a symbolic link, which is not followed`);
    if (code === 'EACCES')
      throw new InvalidInputError(`log file ${path} is not readable (permission denied)`);
    throw err;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new InvalidInputError(
      `log file ${path} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}`,
    );
  }
  return fh;
}

/** readAt, synchronously: for the few small reads of a seek. */
export function readAtSync(
  fh: PositionalReader,
  buf: Uint8Array,
  off: number,
  len: number,
  pos: number,
): number {
  let got = 0;
  while (got < len) {
    const n = fh.readSync(buf, off + got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
