// Docker's stdcopy framing, used by the Engine API for the logs and attach streams of
// containers without a TTY: an 8-byte header (stream id, three zero bytes, big-endian uint32
// payload length) before each payload. Stream ids: 0 stdin, 1 stdout, 2 stderr.

import type { StreamId } from './format.js';
import type { LogChunk } from './query.js';

export const STDCOPY_HEADER_LENGTH = 8;
const MAX_FRAME = 0xffffffff;

/** The header of a frame carrying `length` bytes of one of our streams (0 stdout, 1 stderr). */
export function stdcopyHeader(stream: StreamId, length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_FRAME)
    throw new RangeError(`stdcopy frame length ${length} out of range`);
  const h = Buffer.alloc(STDCOPY_HEADER_LENGTH);
  h[0] = stream + 1;
  h.writeUInt32BE(length, 4);
  return h;
}

/** Frames a log chunk: header and payload, for a vectored write without copying. */
export function stdcopyFrame(chunk: LogChunk): [Buffer, Buffer] {
  return [stdcopyHeader(chunk.stream, chunk.data.length), chunk.data];
}
