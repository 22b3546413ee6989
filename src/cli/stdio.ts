// Fast standard input and output for the CLI's byte-pumping commands.
import type { read as fsRead } from 'node:fs';
import type { Writable } from 'node:stream';

/**
 * Reads standard input in 1 MiB blocks straight from fd 0 (process.stdin would hand out
 * 64 KiB chunks through a stream), reading the next block while the caller works on the last.
 * Each block is reused two blocks later: consume it before asking for the next.
 * Falls back to process.stdin if fd 0 is non-blocking (EAGAIN).
 */
export async function* readStdin(read: typeof fsRead): AsyncGenerator<Uint8Array> {
  const bufs = [Buffer.allocUnsafe(1 << 20), Buffer.allocUnsafe(1 << 20)];
  const start = (buf: Buffer) =>
    new Promise<number>((resolve, reject) =>
      read(0, buf, 0, buf.length, null, (err, bytes) => (err ? reject(err) : resolve(bytes))),
    );
  let next = start(bufs[0]);
  for (let i = 0; ; i ^= 1) {
    let n: number;
    try {
      n = await next;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      for await (const chunk of process.stdin) yield chunk as Buffer;
      return;
    }
    if (n === 0) return;
    next = start(bufs[i ^ 1]);
    yield bufs[i].subarray(0, n);
  }
}

/**
 * Writes and waits until the bytes are written (not merely queued), so a slow reader of our
 * output slows us rather than growing our memory, and the caller may reuse `data`.
 */
export function writeAll(out: Writable, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) =>
    out.write(data, (err) => (err ? reject(err) : resolve())),
  );
}
