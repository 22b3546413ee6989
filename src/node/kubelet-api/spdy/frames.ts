// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 and the 3.1 amendments): the frame types, a
// writer for each and an incremental parser. Header blocks travel here still compressed; the
// session (session.ts) runs them through the per-direction zlib contexts (header-block.ts).
//
// Hand-written on purpose: no maintained npm package speaks SPDY/3.1 the way the kube-apiserver
// (Go's moby/spdystream) does — the old `spdy` package wants HTTP pseudo-headers and enforces
// flow-control windows the Go peer never opens.

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
export const FLAG_CLEAR_SETTINGS = 0x01;

/** RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

/** GOAWAY status codes. */
export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

export interface SettingsEntry {
  flags: number;
  id: number;
  value: number;
}

export type Frame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | {
      type: 'syn_stream';
      streamId: number;
      associatedId: number;
      priority: number;
      slot: number;
      fin: boolean;
      unidirectional: boolean;
      headerBlock: Buffer;
    }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; clear: boolean; entries: SettingsEntry[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'window_update'; streamId: number; delta: number }
  /** A control frame of a type this end does not know: the spec says ignore it. */
  | { type: 'unknown'; frameType: number; flags: number; payload: Buffer };

/** The peer broke the protocol: the session answers with GOAWAY and closes. */
export class SpdyProtocolError extends Error {
  constructor(
    message: string,
    readonly status: number = GoAwayStatus.PROTOCOL_ERROR,
  ) {
    super(message);
    this.name = 'SpdyProtocolError';
  }
}

const HEADER = 8;
const MAX_ID = 0x7fffffff;
const MAX_LENGTH = 0xffffff;

function control(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_LENGTH) throw new RangeError('SPDY frame payload over 16 MiB');
  const b = Buffer.allocUnsafe(HEADER + payload.length);
  b.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt32BE(((flags & 0xff) << 24) | payload.length, 4);
  payload.copy(b, HEADER);
  return b;
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.allocUnsafe(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

function checkId(id: number, what = 'stream id'): number {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new RangeError(`bad ${what} ${id}`);
  return id;
}

/** The wire bytes of one frame (its header block, if any, compressed already). */
export function encodeFrame(f: Frame): Buffer {
  switch (f.type) {
    case 'data': {
      if (f.data.length > MAX_LENGTH) throw new RangeError('SPDY frame payload over 16 MiB');
      const b = Buffer.allocUnsafe(HEADER + f.data.length);
      b.writeUInt32BE(checkId(f.streamId), 0);
      b.writeUInt32BE(((f.fin ? FLAG_FIN : 0) << 24) | f.data.length, 4);
      f.data.copy(b, HEADER);
      return b;
    }
    case 'syn_stream': {
      const fixed = Buffer.allocUnsafe(10);
      fixed.writeUInt32BE(checkId(f.streamId), 0);
      fixed.writeUInt32BE(checkId(f.associatedId, 'associated stream id'), 4);
      fixed.writeUInt8((f.priority & 0x7) << 5, 8);
      fixed.writeUInt8(f.slot & 0xff, 9);
      const flags = (f.fin ? FLAG_FIN : 0) | (f.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
      return control(FrameType.SYN_STREAM, flags, Buffer.concat([fixed, f.headerBlock]));
    }
    case 'syn_reply':
    case 'headers': {
      const type = f.type === 'syn_reply' ? FrameType.SYN_REPLY : FrameType.HEADERS;
      const payload = Buffer.concat([u32s(checkId(f.streamId)), f.headerBlock]);
      return control(type, f.fin ? FLAG_FIN : 0, payload);
    }
    case 'rst_stream':
      return control(FrameType.RST_STREAM, 0, u32s(checkId(f.streamId), f.status));
    case 'settings': {
      const payload = Buffer.allocUnsafe(4 + 8 * f.entries.length);
      payload.writeUInt32BE(f.entries.length, 0);
      f.entries.forEach((e, i) => {
        payload.writeUInt32BE((((e.flags & 0xff) << 24) | (e.id & 0xffffff)) >>> 0, 4 + i * 8);
        payload.writeUInt32BE(e.value >>> 0, 8 + i * 8);
      });
      return control(FrameType.SETTINGS, f.clear ? FLAG_CLEAR_SETTINGS : 0, payload);
    }
    case 'ping':
      return control(FrameType.PING, 0, u32s(f.id));
    case 'goaway':
      return control(FrameType.GOAWAY, 0, u32s(checkId(f.lastGoodStreamId), f.status));
    case 'window_update':
      return control(FrameType.WINDOW_UPDATE, 0, u32s(checkId(f.streamId), checkId(f.delta)));
    case 'unknown':
      return control(f.frameType, f.flags, f.payload);
  }
}

export interface ParserOptions {
  /** Largest payload accepted (a longer frame is refused before it is buffered). */
  maxFrameLength?: number;
}

/**
 * Turns bytes into frames as they arrive. `push` answers every frame complete so far and keeps
 * the rest; it throws SpdyProtocolError on anything malformed (after which the parser is dead:
 * the connection is to be closed).
 */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  private failed = false;
  private readonly maxFrameLength: number;

  constructor(o: ParserOptions = {}) {
    this.maxFrameLength = o.maxFrameLength ?? 1 << 20;
  }

  push(chunk: Buffer): Frame[] {
    if (this.failed) throw new SpdyProtocolError('the frame parser failed before');
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    try {
      let off = 0;
      while (this.buf.length - off >= HEADER) {
        const length = this.buf.readUInt32BE(off + 4) & 0xffffff;
        if (length > this.maxFrameLength)
          throw new SpdyProtocolError(
            `frame of ${length} bytes is over the limit of ${this.maxFrameLength}`,
          );
        if (this.buf.length - off < HEADER + length) break;
        frames.push(parseOne(this.buf.subarray(off, off + HEADER + length)));
        off += HEADER + length;
      }
      // Keep only what is left, copied, so a large chunk is not held for a few bytes of it.
      this.buf = off === 0 ? this.buf : Buffer.from(this.buf.subarray(off));
    } catch (err) {
      this.failed = true;
      this.buf = Buffer.alloc(0);
      throw err;
    }
    return frames;
  }
}

function parseOne(frame: Buffer): Frame {
  const first = frame.readUInt32BE(0);
  const flags = frame.readUInt8(4);
  const p = frame.subarray(HEADER);
  if ((first & 0x80000000) === 0) {
    const streamId = first & MAX_ID;
    if (streamId === 0) throw new SpdyProtocolError('DATA frame on stream 0');
    return { type: 'data', streamId, fin: (flags & FLAG_FIN) !== 0, data: p };
  }
  const version = (first >>> 16) & 0x7fff;
  const type = first & 0xffff;
  if (version !== SPDY_VERSION)
    throw new SpdyProtocolError(`control frame of SPDY version ${version}, want ${SPDY_VERSION}`);
  const need = (n: number, exact: boolean) => {
    if (exact ? p.length !== n : p.length < n)
      throw new SpdyProtocolError(`control frame type ${type} with a bad length ${p.length}`);
  };
  const id31 = (at: number) => p.readUInt32BE(at) & MAX_ID;
  const fin = (flags & FLAG_FIN) !== 0;
  switch (type) {
    case FrameType.SYN_STREAM:
      need(10, false);
      return {
        type: 'syn_stream',
        streamId: nonZero(id31(0), 'SYN_STREAM'),
        associatedId: id31(4),
        priority: p.readUInt8(8) >>> 5,
        slot: p.readUInt8(9),
        fin,
        unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
        headerBlock: p.subarray(10),
      };
    case FrameType.SYN_REPLY:
    case FrameType.HEADERS:
      need(4, false);
      return {
        type: type === FrameType.SYN_REPLY ? 'syn_reply' : 'headers',
        streamId: nonZero(id31(0), type === FrameType.SYN_REPLY ? 'SYN_REPLY' : 'HEADERS'),
        fin,
        headerBlock: p.subarray(4),
      };
    case FrameType.RST_STREAM:
      need(8, true);
      return { type: 'rst_stream', streamId: id31(0), status: p.readUInt32BE(4) };
    case FrameType.SETTINGS: {
      need(4, false);
      const count = p.readUInt32BE(0);
      if (p.length !== 4 + count * 8)
        throw new SpdyProtocolError(`SETTINGS of ${count} entries in ${p.length} bytes`);
      const entries: SettingsEntry[] = [];
      for (let i = 0; i < count; i++) {
        const head = p.readUInt32BE(4 + i * 8);
        entries.push({ flags: head >>> 24, id: head & 0xffffff, value: p.readUInt32BE(8 + i * 8) });
      }
      return { type: 'settings', clear: (flags & FLAG_CLEAR_SETTINGS) !== 0, entries };
    }
    case FrameType.PING:
      need(4, true);
      return { type: 'ping', id: p.readUInt32BE(0) };
    case FrameType.GOAWAY:
      // SPDY/2 had no status; 3 has one: 8 bytes exactly.
      need(8, true);
      return { type: 'goaway', lastGoodStreamId: id31(0), status: p.readUInt32BE(4) };
    case FrameType.WINDOW_UPDATE:
      need(8, true);
      return { type: 'window_update', streamId: id31(0), delta: id31(4) };
    default:
      return { type: 'unknown', frameType: type, flags, payload: p };
  }
}

function nonZero(id: number, what: string): number {
  if (id === 0) throw new SpdyProtocolError(`${what} on stream 0`);
  return id;
}
