// Opening log files with clear errors, and positioned reads that fill what they can.
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { InvalidInputError, NotFoundError } from './errors.js';

/** Reads up to `len` bytes at file position `pos` into buf[off…]; fewer only at end of file. */
export async function readAt(
  fh: FileHandle,
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

/** Opens a log file for reading; a missing file, a directory or no permission is a clear error. */
export async function openLog(path: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`log file ${path} does not exist`);
    if (code === 'EISDIR') throw new InvalidInputError(`log file ${path} is a directory`);
    if (code === 'EACCES')
      throw new InvalidInputError(`log file ${path} is not readable (permission denied)`);
    throw err;
  }
  if ((await fh.stat()).isDirectory()) {
    await fh.close();
    throw new InvalidInputError(`log file ${path} is a directory`);
  }
  return fh;
}

/** readAt, synchronously: for the few small reads of a seek. */
export function readAtSync(
  fh: FileHandle,
  buf: Uint8Array,
  off: number,
  len: number,
  pos: number,
): number {
  let got = 0;
  while (got < len) {
    const n = readSync(fh.fd, buf, off + got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
