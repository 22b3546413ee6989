// VIC's container-VM log format (github.com/vmware/vic lib/iolog), byte for byte.
//
// An entry is a 16-character header followed by `size` raw message bytes. The header is the
// standard padded base64 of 10 bytes:
//   bytes 0..7  int64 little-endian Unix nanoseconds (UTC)
//   bytes 8..9  uint16 little-endian  size << 4 | stream << 3 | reserved flags (bits 0..2)
// so size is at most 4095. Stream 0 is stdout, 1 is stderr.
//
// The functions here work on raw byte offsets with lookup tables instead of Buffer's base64
// codec: a header is 16 bytes, and calling into the codec (and allocating its result) for each
// entry would cost more than the rest of the entry's work together.

export const HEADER_LENGTH = 16;
export const MAX_MESSAGE = 4095;
/** Largest entry on disk: header plus a full message. */
export const MAX_ENTRY = HEADER_LENGTH + MAX_MESSAGE;
export const STDOUT = 0;
export const STDERR = 1;
export type StreamId = 0 | 1;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const EQ = 0x3d; // '='

/** 6-bit value → ASCII code. */
export const ENCODE = new Uint8Array(64);
/** ASCII code → 6-bit value, or 255 when the byte is not in the base64 alphabet. */
export const DECODE = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) {
  ENCODE[i] = ALPHABET.charCodeAt(i);
  DECODE[ALPHABET.charCodeAt(i)] = i;
}

/** Header characters that depend on the timestamp alone, plus the 4 bits it puts into the next. */
export const TIME_CHARS = 11;

/**
 * Encodes the 8 timestamp bytes `t` (little-endian) into header characters 0..9, and into
 * chars[10] the high 4 bits of character 10, which it shares with the size.
 */
export function encodeTime(t: Uint8Array, chars: Uint8Array): void {
  let b0 = t[0],
    b1 = t[1],
    b2 = t[2];
  chars[0] = ENCODE[b0 >>> 2];
  chars[1] = ENCODE[((b0 & 3) << 4) | (b1 >>> 4)];
  chars[2] = ENCODE[((b1 & 15) << 2) | (b2 >>> 6)];
  chars[3] = ENCODE[b2 & 63];
  b0 = t[3];
  b1 = t[4];
  b2 = t[5];
  chars[4] = ENCODE[b0 >>> 2];
  chars[5] = ENCODE[((b0 & 3) << 4) | (b1 >>> 4)];
  chars[6] = ENCODE[((b1 & 15) << 2) | (b2 >>> 6)];
  chars[7] = ENCODE[b2 & 63];
  b0 = t[6];
  b1 = t[7];
  chars[8] = ENCODE[b0 >>> 2];
  chars[9] = ENCODE[((b0 & 3) << 4) | (b1 >>> 4)];
  chars[10] = (b1 & 15) << 2;
}

/**
 * Writes the 16-byte header at `off` from the timestamp characters made by `encodeTime`.
 * Returns the offset after the header.
 */
export function encodeHeader(
  out: Uint8Array,
  off: number,
  time: Uint8Array,
  size: number,
  stream: number,
): number {
  const word = (size << 4) | (stream << 3);
  const b8 = word & 0xff;
  const b9 = word >>> 8;
  out[off] = time[0];
  out[off + 1] = time[1];
  out[off + 2] = time[2];
  out[off + 3] = time[3];
  out[off + 4] = time[4];
  out[off + 5] = time[5];
  out[off + 6] = time[6];
  out[off + 7] = time[7];
  out[off + 8] = time[8];
  out[off + 9] = time[9];
  out[off + 10] = ENCODE[time[10] | (b8 >>> 6)];
  out[off + 11] = ENCODE[b8 & 63];
  out[off + 12] = ENCODE[b9 >>> 2];
  out[off + 13] = ENCODE[(b9 & 3) << 4];
  out[off + 14] = EQ;
  out[off + 15] = EQ;
  return off + HEADER_LENGTH;
}

/**
 * Validates the header at `off` (which must have 16 bytes available) and returns its
 * `size << 1 | stream`, or -1 when the 16 bytes are not a header.
 *
 * A header is accepted in its canonical form only: 14 alphabet characters, the last of which
 * carries no stray low bits, then "==". Every writer (VIC's and ours) produces exactly that.
 * VIC's reader also accepts the non-canonical endings "xxx=" and "xxxx" that Go's decoder
 * tolerates; that is what lets junk ending in a base64 character swallow a real header during
 * resynchronisation, so we don't.
 */
export function headerAt(buf: Uint8Array, off: number): number {
  if (buf[off + 14] !== EQ || buf[off + 15] !== EQ) return -1;
  const c13 = DECODE[buf[off + 13]];
  if (c13 > 63 || (c13 & 15) !== 0) return -1;
  // Any byte outside the alphabet has bit 7 of its DECODE value set, so OR-ing them all
  // answers "all valid?" with one test.
  const c10 = DECODE[buf[off + 10]];
  const c11 = DECODE[buf[off + 11]];
  const c12 = DECODE[buf[off + 12]];
  const bad =
    DECODE[buf[off]] |
    DECODE[buf[off + 1]] |
    DECODE[buf[off + 2]] |
    DECODE[buf[off + 3]] |
    DECODE[buf[off + 4]] |
    DECODE[buf[off + 5]] |
    DECODE[buf[off + 6]] |
    DECODE[buf[off + 7]] |
    DECODE[buf[off + 8]] |
    DECODE[buf[off + 9]] |
    c10 |
    c11 |
    c12;
  if (bad > 63) return -1;
  const b8 = ((c10 & 3) << 6) | c11;
  const b9 = (c12 << 2) | (c13 >>> 4);
  const word = b8 | (b9 << 8);
  return ((word >>> 4) << 1) | ((word >>> 3) & 1);
}

/** Decodes the timestamp bytes of a (valid) header at `off` into `t[0..7]`. */
export function timestampBytesAt(buf: Uint8Array, off: number, t: Uint8Array): void {
  let v =
    (DECODE[buf[off]] << 18) |
    (DECODE[buf[off + 1]] << 12) |
    (DECODE[buf[off + 2]] << 6) |
    DECODE[buf[off + 3]];
  t[0] = v >>> 16;
  t[1] = (v >>> 8) & 0xff;
  t[2] = v & 0xff;
  v =
    (DECODE[buf[off + 4]] << 18) |
    (DECODE[buf[off + 5]] << 12) |
    (DECODE[buf[off + 6]] << 6) |
    DECODE[buf[off + 7]];
  t[3] = v >>> 16;
  t[4] = (v >>> 8) & 0xff;
  t[5] = v & 0xff;
  v = (DECODE[buf[off + 8]] << 18) | (DECODE[buf[off + 9]] << 12) | (DECODE[buf[off + 10]] << 6);
  t[6] = v >>> 16;
  t[7] = (v >>> 8) & 0xff;
}

/**
 * A scratch space for moving timestamps between bigint nanoseconds and header bytes without
 * allocating: one per writer or reader.
 */
export class Timestamps {
  readonly bytes = new Uint8Array(8);
  private readonly view = new DataView(this.bytes.buffer);

  /** Fills `bytes` from nanoseconds (int64, two's complement like VIC's). */
  set(ns: bigint): Uint8Array {
    this.view.setBigInt64(0, ns, true);
    return this.bytes;
  }

  /** Nanoseconds of the header at `off`. */
  read(buf: Uint8Array, off: number): bigint {
    timestampBytesAt(buf, off, this.bytes);
    return this.view.getBigInt64(0, true);
  }
}
