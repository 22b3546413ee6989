// Positioned reads that fill what they can.
import type { FileHandle } from 'node:fs/promises';

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
