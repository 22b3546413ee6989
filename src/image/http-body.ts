// Response bodies read with a cap: a registry or token service is not trusted to end what it
// sends. Nothing beyond the cap is read; the rest of the body is cancelled.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { InvalidInputError } from './errors.js';

/** Largest token service reply (a JSON object holding a token, a few KiB in practice). */
export const MAX_TOKEN_BODY = 1 << 20;
/** How much of a registry's error body is read for its message. */
export const MAX_ERROR_BODY = 16 << 10;

/**
 * The first `limit` bytes of `res`'s body, and whether there was more (then cancelled).
 * A declared Content-Length over the limit reads nothing.
 */
export async function readCapped(
  res: Response,
  limit: number,
): Promise<{ bytes: Buffer; more: boolean }> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > limit || !res.body) {
    await res.body?.cancel().catch(() => {});
    return { bytes: Buffer.alloc(0), more: declared > limit };
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  try {
    for await (const c of body) {
      const chunk = c as Buffer;
      if (total + chunk.length > limit) {
        chunks.push(chunk.subarray(0, limit - total));
        return { bytes: Buffer.concat(chunks), more: true };
      }
      total += chunk.length;
      chunks.push(chunk);
    }
  } finally {
    body.destroy();
  }
  return { bytes: Buffer.concat(chunks), more: false };
}

/** The whole body of at most `limit` bytes; an InvalidInputError naming `what` beyond. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const { bytes, more } = await readCapped(res, limit);
  if (more) throw new InvalidInputError(`${what} is larger than ${limit} bytes: refused`);
  return bytes;
}
