import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { resizeEvents } from './resize.js';

describe('resizeEvents', () => {
  it('yields the sizes as they come, split or joined across chunks', async () => {
    const s = new PassThrough();
    s.write('{"Width":80,"Height":24}{"Wid');
    s.end('th":100,"Height":30}');
    const got = [];
    for await (const size of resizeEvents(s)) got.push(size);
    expect(got).toEqual([
      { width: 80, height: 24 },
      { width: 100, height: 30 },
    ]);
  });

  it('stops at the first bad object, and what the client sends after it is dropped, not kept', async () => {
    const s = new PassThrough();
    s.write('{"Width":"wide"}');
    const got = [];
    for await (const size of resizeEvents(s)) got.push(size);
    expect(got).toEqual([]);
    for (let i = 0; i < 100; i++) s.write(Buffer.alloc(64 * 1024));
    await new Promise((r) => setImmediate(r));
    expect(s.readableLength).toBe(0);
    expect(s.writableLength).toBe(0);
  });
});
