// The frames of a pod VM's data port (tether/protocol.h, "the data port"): an 8-byte header
// (CHAN, TYPE, 0, LEN) and LEN bytes. The guest may be hostile: the reader never holds more
// than one frame's worth of bytes, and a header that cannot be a frame ends the stream (there
// is no finding the next frame after it).

/** VIC_FRAME_*: the frame types and limits; protocol.test.ts checks them against the header. */
export const FRAME = { data: 0, stderr: 1, eof: 2, credit: 3, reset: 4 } as const;
export const FRAME_HEADER = 8;
export const FRAME_MAX = 16384;
export const DATA_WINDOW = 262144;
/** Channel numbers are 1..2^32-1. */
export const MAX_CHANNEL = 0xffffffff;

export interface Frame {
  chan: number;
  type: number;
  data: Buffer;
}

export class BadFrameError extends Error {}

export function encodeFrame(chan: number, type: number, data?: Buffer): Buffer {
  const len = data?.length ?? 0;
  if (len > FRAME_MAX) throw new RangeError(`frame of ${len} bytes`);
  const h = Buffer.alloc(FRAME_HEADER);
  h.writeUInt32BE(chan, 0);
  h[4] = type;
  h.writeUInt16BE(len, 6);
  return len ? Buffer.concat([h, data!]) : h;
}

/** A CREDIT frame's payload: a count, big-endian. */
export function creditFrame(chan: number, n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return encodeFrame(chan, FRAME.credit, b);
}

/**
 * Splits the port's byte stream into frames. push() returns the frames completed by a chunk;
 * it throws BadFrameError for a length past FRAME_MAX or a non-zero reserved byte (the reader
 * is then of no more use). At most FRAME_HEADER + FRAME_MAX bytes of an unfinished frame are
 * held.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (buf.length >= FRAME_HEADER) {
      const len = buf.readUInt16BE(6);
      if (len > FRAME_MAX)
        throw new BadFrameError(`a frame of ${len} bytes (at most ${FRAME_MAX})`);
      if (buf[5] !== 0) throw new BadFrameError('a frame header with its reserved byte set');
      if (buf.length < FRAME_HEADER + len) break;
      const chan = buf.readUInt32BE(0);
      // A copy: the frame outlives the chunk it came in.
      frames.push({
        chan,
        type: buf[4]!,
        data: Buffer.from(buf.subarray(FRAME_HEADER, FRAME_HEADER + len)),
      });
      buf = buf.subarray(FRAME_HEADER + len);
    }
    this.pending = Buffer.from(buf);
    return frames;
  }

  /** Bytes held of an unfinished frame. */
  get held(): number {
    return this.pending.length;
  }
}
