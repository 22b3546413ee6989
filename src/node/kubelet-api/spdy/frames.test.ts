import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { encodeFrame, type Frame, FrameParser, SpdyProtocolError } from './frames.js';

const all: Frame[] = [
  { type: 'data', streamId: 1, fin: false, data: Buffer.from('hello') },
  { type: 'data', streamId: 0x7fffffff, fin: true, data: Buffer.alloc(0) },
  {
    type: 'syn_stream',
    streamId: 3,
    associatedId: 1,
    priority: 7,
    slot: 2,
    fin: true,
    unidirectional: true,
    headerBlock: Buffer.from([1, 2, 3]),
  },
  { type: 'syn_reply', streamId: 3, fin: false, headerBlock: Buffer.from([9, 9]) },
  { type: 'rst_stream', streamId: 5, status: 5 },
  {
    type: 'settings',
    clear: true,
    entries: [
      { flags: 1, id: 7, value: 65536 },
      { flags: 0, id: 4, value: 0xffffffff },
    ],
  },
  { type: 'settings', clear: false, entries: [] },
  { type: 'ping', id: 0xfffffffe },
  { type: 'goaway', lastGoodStreamId: 11, status: 1 },
  { type: 'headers', streamId: 7, fin: true, headerBlock: Buffer.alloc(0) },
  { type: 'window_update', streamId: 9, delta: 0x7fffffff },
  { type: 'unknown', frameType: 10, flags: 3, payload: Buffer.from('credential') },
];

describe('SPDY/3 dictionary', () => {
  it('is the spec’s 1423 bytes', () => {
    expect(SPDY3_DICTIONARY.length).toBe(1423);
    expect(createHash('sha256').update(SPDY3_DICTIONARY).digest('hex')).toBe(
      '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02',
    );
  });
});

describe('frames', () => {
  it.each(all.map((f) => [f.type, f]))('%s round-trips', (_t, f) => {
    expect(new FrameParser().push(encodeFrame(f))).toEqual([f]);
  });

  it('writes the wire layout the spec gives', () => {
    expect(encodeFrame({ type: 'ping', id: 1 }).toString('hex')).toBe('800300060000000400000001');
    expect(
      encodeFrame({ type: 'data', streamId: 3, fin: true, data: Buffer.from('a') }).toString('hex'),
    ).toBe('000000030100000161');
    expect(encodeFrame({ type: 'rst_stream', streamId: 1, status: 5 }).toString('hex')).toBe(
      '80030003000000080000000100000005',
    );
  });

  it('parses frames split at every byte and many in one chunk', () => {
    const wire = Buffer.concat(all.map(encodeFrame));
    const p = new FrameParser();
    const got: Frame[] = [];
    for (let i = 0; i < wire.length; i++) got.push(...p.push(wire.subarray(i, i + 1)));
    expect(got).toEqual(all);
    expect(new FrameParser().push(wire)).toEqual(all);
  });

  const malformed: [string, Buffer][] = [
    ['RST_STREAM of 4 bytes', Buffer.from('8003000300000004' + '00000001', 'hex')],
    ['PING of 8 bytes', Buffer.from('8003000600000008' + '0000000100000002', 'hex')],
    ['GOAWAY of 4 bytes (SPDY/2 layout)', Buffer.from('8003000700000004' + '00000001', 'hex')],
    ['WINDOW_UPDATE of 12 bytes', Buffer.from('800300090000000c' + '0'.repeat(24), 'hex')],
    ['SETTINGS whose count lies', Buffer.from('8003000400000004' + '00000002', 'hex')],
    ['SYN_STREAM shorter than its fixed part', Buffer.from('8003000100000004' + '00000001', 'hex')],
    ['SYN_STREAM on stream 0', Buffer.from('800300010000000a' + '00000000000000000000', 'hex')],
    ['DATA on stream 0', Buffer.from('0000000000000001' + '61', 'hex')],
    ['a control frame of version 2', Buffer.from('8002000600000004' + '00000001', 'hex')],
  ];

  it.each(malformed)('refuses %s', (_what, wire) => {
    const p = new FrameParser();
    expect(() => p.push(wire)).toThrow(SpdyProtocolError);
    // Dead after that: the connection is to close.
    expect(() => p.push(encodeFrame({ type: 'ping', id: 1 }))).toThrow(SpdyProtocolError);
  });

  it('refuses a frame over the limit before it arrives whole', () => {
    const p = new FrameParser({ maxFrameLength: 1024 });
    const head = encodeFrame({ type: 'data', streamId: 1, fin: false, data: Buffer.alloc(2000) });
    expect(() => p.push(head.subarray(0, 8))).toThrow(/over the limit/);
  });

  it('keeps an incomplete frame until the rest comes', () => {
    const p = new FrameParser();
    const wire = encodeFrame({ type: 'data', streamId: 1, fin: false, data: Buffer.alloc(100) });
    expect(p.push(wire.subarray(0, 50))).toEqual([]);
    expect(p.push(wire.subarray(50))).toHaveLength(1);
  });
});
