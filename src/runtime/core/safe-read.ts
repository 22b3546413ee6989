// Reading a file that a container or a guest can write (its rootfs, anything it could replace):
// such a file may be a FIFO (a plain read blocks a libuv thread for good), a symlink to
// /dev/zero or a huge file (a plain read buffers it all). Here it is opened without following a
// final symlink and without blocking, must be a regular file, and is read up to a cap.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export interface SafeReadResult {
  data: Buffer;
  /** The file was longer than the cap: `data` holds its first `cap` bytes. */
  truncated: boolean;
}

/**
 * The file's first `cap` bytes; undefined when it does not exist, is not a regular file, or is
 * a symlink (a caller that must follow links within a rootfs resolves them first, in-root.ts).
 */
export async function readCapped(path: string, cap: number): Promise<SafeReadResult | undefined> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return undefined;
    // One byte over the cap tells a file of exactly `cap` bytes from a longer one.
    const buf = Buffer.allocUnsafe(Math.min(st.size, cap) + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { data: buf.subarray(0, Math.min(got, cap)), truncated: got > cap };
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/** As readCapped, as UTF-8 text; undefined also when the file is longer than the cap. */
export async function readTextCapped(path: string, cap: number): Promise<string | undefined> {
  const r = await readCapped(path, cap);
  return r && !r.truncated ? r.data.toString('utf8') : undefined;
}
