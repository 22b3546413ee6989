// A gzip layer bomb made cheaply: one tar header declaring a file of `bytes` zeros, then the
// same small gzip member (16 MiB of zeros, ~16 KiB compressed) over and over. Gzip allows
// concatenated members, so the stream is valid gzip of a valid (if unfinished) tar, costing
// ~1 KiB per 1 MiB declared and no compression work beyond the first member.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { tarEntry } from './tar.js';

const memberBytes = 16 * 1024 ** 2;

/** A ustar header for a regular file of `size` bytes (base-256 size field past 8 GiB). */
function bigFileHeader(name: string, size: number): Buffer {
  const h = tarEntry({ name, body: '' }).subarray(0, 512);
  const out = Buffer.from(h);
  out.fill(0, 124, 136);
  out[124] = 0x80; // base-256: the remaining 11 bytes are the size, big-endian
  out.writeBigUInt64BE(BigInt(size), 128);
  out.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of out) sum += b;
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return out;
}

/** The bomb's gzip members, in order: yields the same zero member for all but the head. */
function* members(bytes: number): Generator<Buffer> {
  yield gzipSync(bigFileHeader('zeros', bytes));
  const zeros = gzipSync(Buffer.alloc(memberBytes), { level: 9 });
  for (let left = bytes; left > 0; left -= memberBytes)
    yield left >= memberBytes ? zeros : gzipSync(Buffer.alloc(left), { level: 9 });
}

/** The bomb as a stream. */
export function gzipBomb(bytes: number): Readable {
  return Readable.from(members(bytes));
}

/** Its compressed size and digest, for a manifest that names it (one cheap pass). */
export function gzipBombDescriptor(bytes: number): { size: number; digest: string } {
  const hash = createHash('sha256');
  let size = 0;
  for (const m of members(bytes)) {
    hash.update(m);
    size += m.length;
  }
  return { size, digest: `sha256:${hash.digest('hex')}` };
}
