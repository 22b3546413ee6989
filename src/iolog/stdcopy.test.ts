import { describe, expect, it } from 'vitest';
import { STDCOPY_HEADER_LENGTH, stdcopyFrame, stdcopyHeader } from './stdcopy.js';

describe('stdcopyHeader', () => {
  it('is stream id 1 for stdout, three zero bytes and the big-endian length', () => {
    expect([...stdcopyHeader(0, 5)]).toEqual([1, 0, 0, 0, 0, 0, 0, 5]);
    expect([...stdcopyHeader(0, 0)]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect([...stdcopyHeader(0, 0x01020304)]).toEqual([1, 0, 0, 0, 1, 2, 3, 4]);
    expect(stdcopyHeader(0, 1).length).toBe(STDCOPY_HEADER_LENGTH);
  });

  it('is stream id 2 for stderr', () => {
    expect([...stdcopyHeader(1, 5)]).toEqual([2, 0, 0, 0, 0, 0, 0, 5]);
    expect([...stdcopyHeader(1, 4096)]).toEqual([2, 0, 0, 0, 0, 0, 16, 0]);
  });

  it('takes lengths up to 2^32 - 1', () => {
    expect([...stdcopyHeader(1, 0xffffffff)]).toEqual([2, 0, 0, 0, 255, 255, 255, 255]);
    expect([...stdcopyHeader(0, 0x80000000)]).toEqual([1, 0, 0, 0, 128, 0, 0, 0]);
  });

  it('throws a RangeError for lengths a frame cannot carry', () => {
    for (const bad of [-1, 0.5, 1.5, 2 ** 32, 2 ** 53, NaN, Infinity, -Infinity]) {
      expect(() => stdcopyHeader(0, bad), String(bad)).toThrow(RangeError);
      expect(() => stdcopyHeader(1, bad), String(bad)).toThrow(/out of range/);
    }
  });

  it('gives each frame its own header memory', () => {
    const a = stdcopyHeader(0, 1);
    const b = stdcopyHeader(1, 2);
    expect([...a]).toEqual([1, 0, 0, 0, 0, 0, 0, 1]);
    expect([...b]).toEqual([2, 0, 0, 0, 0, 0, 0, 2]);
  });
});

describe('stdcopyFrame', () => {
  it('frames a chunk as header and the payload itself, uncopied', () => {
    const data = Buffer.from('hello\n');
    const [h, p] = stdcopyFrame({ stream: 0, data });
    expect([...h]).toEqual([1, 0, 0, 0, 0, 0, 0, 6]);
    expect(p).toBe(data);
    const [h2, p2] = stdcopyFrame({ stream: 1, data: Buffer.alloc(0) });
    expect([...h2]).toEqual([2, 0, 0, 0, 0, 0, 0, 0]);
    expect(p2.length).toBe(0);
  });

  it('frames a stream that a demultiplexer splits back into the chunks', () => {
    const chunks = [
      { stream: 0 as const, data: Buffer.from('out one\n') },
      { stream: 1 as const, data: Buffer.from('err\n') },
      { stream: 0 as const, data: Buffer.alloc(70000, 'x') },
    ];
    const wire = Buffer.concat(chunks.flatMap((c) => stdcopyFrame(c)));
    const back: { stream: number; data: Buffer }[] = [];
    for (let i = 0; i < wire.length;) {
      expect(wire.subarray(i + 1, i + 4).equals(Buffer.alloc(3))).toBe(true);
      const len = wire.readUInt32BE(i + 4);
      back.push({ stream: wire[i] - 1, data: wire.subarray(i + 8, i + 8 + len) });
      i += 8 + len;
    }
    const flat = (cs: { stream: number; data: Buffer }[]) =>
      cs.map((c) => `${c.stream}:${c.data.toString('base64')}`);
    expect(flat(back)).toEqual(flat(chunks));
  });
});
