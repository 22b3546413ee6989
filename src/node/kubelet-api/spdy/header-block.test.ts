import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { SpdyProtocolError } from './frames.js';
import {
  decodeHeaderBlock,
  encodeHeaderBlock,
  HeaderCompressor,
  HeaderDecompressor,
} from './header-block.js';

describe('header blocks', () => {
  it('encode and decode name/value pairs, several values NUL-joined', () => {
    const h = { streamtype: ['stdout'], 'x-multi': ['a', 'b', ''], empty: [''] };
    const raw = encodeHeaderBlock(h);
    expect(raw.readUInt32BE(0)).toBe(3);
    expect(decodeHeaderBlock(raw)).toEqual(h);
  });

  it('lower-cases names', () => {
    expect(decodeHeaderBlock(encodeHeaderBlock({ StreamType: ['error'] }))).toEqual({
      streamtype: ['error'],
    });
  });

  it.each([
    ['a count beyond the bytes', Buffer.from('7fffffff', 'hex')],
    ['a name cut short', Buffer.from('00000001000000ff6162', 'hex')],
    ['an empty name', Buffer.from('000000010000000000000000', 'hex')],
    ['trailing bytes', Buffer.concat([encodeHeaderBlock({ a: ['b'] }), Buffer.from([0])])],
    [
      'a name twice',
      Buffer.from('00000002' + '0000000161' + '0000000162' + '0000000161' + '0000000163', 'hex'),
    ],
  ])('refuses %s', (_what, raw) => {
    expect(() => decodeHeaderBlock(raw)).toThrow(SpdyProtocolError);
  });

  it('compress across many streams with one context per direction', async () => {
    const c = new HeaderCompressor();
    const d = new HeaderDecompressor();
    const sizes: number[] = [];
    for (let i = 0; i < 200; i++) {
      const h = { streamtype: [['stdin', 'stdout', 'stderr', 'error'][i % 4]!], n: [String(i)] };
      const block = await c.compress(h);
      sizes.push(block.length);
      expect(await d.decompress(block)).toEqual(h);
    }
    // The shared context learns: later blocks are smaller than the first.
    expect(sizes.at(-1)!).toBeLessThan(sizes[0]!);
    c.close();
    d.close();
  });

  it('decode a block compressed by another zlib with the dictionary', async () => {
    const raw = encodeHeaderBlock({ streamtype: ['error'] });
    const d = new HeaderDecompressor();
    expect(await d.decompress(deflateSync(raw, { dictionary: SPDY3_DICTIONARY }))).toEqual({
      streamtype: ['error'],
    });
    d.close();
  });

  it('keep order when blocks are queued at once', async () => {
    const c = new HeaderCompressor();
    const d = new HeaderDecompressor();
    const blocks = await Promise.all(
      Array.from({ length: 50 }, (_, i) => c.compress({ i: [String(i)] })),
    );
    for (let i = 0; i < 50; i++) expect(await d.decompress(blocks[i]!)).toEqual({ i: [String(i)] });
    c.close();
    d.close();
  });

  it('refuse a block that is not zlib, and everything after it', async () => {
    const d = new HeaderDecompressor();
    await expect(d.decompress(Buffer.from('not zlib at all'))).rejects.toThrow(SpdyProtocolError);
    const good = await new HeaderCompressor().compress({ a: ['b'] });
    await expect(d.decompress(good)).rejects.toThrow(SpdyProtocolError);
  });

  it('refuse a block that decompresses beyond the limit', async () => {
    const d = new HeaderDecompressor(4096);
    const big = await new HeaderCompressor().compress({ big: ['x'.repeat(100_000)] });
    expect(big.length).toBeLessThan(4096);
    await expect(d.decompress(big)).rejects.toThrow(/over 4096 bytes/);
  });
});
