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

/**
 * Whether an entry's line goes on in the next entry of its stream: the writer cut it at 4095
 * bytes without a newline. A logical line is such a run and the entry that ends it.
 */
export function continuesLine(buf: Uint8Array, msg: number, size: number): boolean {
  return size === MAX_MESSAGE && buf[msg + size - 1] !== 0x0a;
}
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
 * Two base64 characters at once: PAIR[c0 | c1 << 8] is their 12 bits (c0 high), or has bit 15
 * set when either is not in the alphabet. Reading a header as eight 16-bit pairs halves the
 * loads of the hottest check in every reader.
 */
const PAIR = new Uint16Array(65536).fill(0x8000);
for (let a = 0; a < 64; a++) {
  for (let b = 0; b < 64; b++) PAIR[ENCODE[a] | (ENCODE[b] << 8)] = (a << 6) | b;
}
const EQ_EQ = (EQ << 8) | EQ;

/**
 * Validates the header at `off` (which must have 16 bytes available) and returns its
 * `size << 1 | stream`, or -1 when the 16 bytes are not a header. `view` is a DataView of the
 * bytes the offsets index.
 *
 * A header is accepted in its canonical form only: 14 alphabet characters, the last of which
 * carries no stray low bits, then "==". Every writer (VIC's and ours) produces exactly that.
 * VIC's reader also accepts the non-canonical endings "xxx=" and "xxxx" that Go's decoder
 * tolerates; that is what lets junk ending in a base64 character swallow a real header during
 * resynchronisation, so we don't.
 */
export function headerAt(view: DataView, off: number): number {
  if (view.getUint16(off + 14, true) !== EQ_EQ) return -1;
  const p5 = PAIR[view.getUint16(off + 10, true)]; // c10 c11
  const p6 = PAIR[view.getUint16(off + 12, true)]; // c12 c13
  const bad =
    PAIR[view.getUint16(off, true)] |
    PAIR[view.getUint16(off + 2, true)] |
    PAIR[view.getUint16(off + 4, true)] |
    PAIR[view.getUint16(off + 6, true)] |
    PAIR[view.getUint16(off + 8, true)] |
    p5 |
    p6;
  if ((bad & 0x8000) !== 0 || (p6 & 15) !== 0) return -1;
  const word = (p5 & 0xff) | ((p6 >>> 4) << 8); // header bytes 8 and 9
  return ((word >>> 4) << 1) | ((word >>> 3) & 1);
}

/** A DataView over exactly the bytes of `buf`, for headerAt. */
export function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
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
