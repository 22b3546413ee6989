// VIC's own writer produced these logs (test/vectors/vic-iolog/README.md): ours must reproduce
// them byte for byte from the same writes and clock, and our reader must decode them as VIC's.
import { readFileSync, readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { steppingClock } from './clock.js';
import { readEntries } from './reader.js';
import { LogWriter } from './writer.js';

const dir = new URL('../../test/vectors/vic-iolog/', import.meta.url);
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -5));

interface Vector {
  clock_start_unix_nano: number | string;
  clock_step_ns: number | string;
  writes: { chunk_b64: string }[];
  entries: { ts_unix_nano: number | string; size: number; msg_b64: string }[];
}

function load(name: string): { v: Vector; log: Buffer } {
  // Timestamps exceed 2^53: parse the integers as strings so they stay exact.
  const text = readFileSync(new URL(`${name}.json`, dir), 'utf8').replace(
    /:\s*(\d{16,})/g,
    ':"$1"',
  );
  return { v: JSON.parse(text) as Vector, log: readFileSync(new URL(`${name}.log`, dir)) };
}

async function collect(stream: PassThrough): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('VIC vectors', () => {
  it('has all five cases', () => {
    expect(names.sort()).toEqual(['binary', 'long', 'partial', 'random', 'simple']);
  });

  for (const name of names) {
    it(`writes ${name}.log byte for byte`, async () => {
      const { v, log } = load(name);
      const sink = new PassThrough();
      const out = collect(sink);
      const w = new LogWriter(sink, {
        clock: steppingClock(BigInt(v.clock_start_unix_nano), BigInt(v.clock_step_ns)),
      });
      for (const { chunk_b64 } of v.writes) w.write(0, Buffer.from(chunk_b64, 'base64'));
      await w.close();
      expect((await out).equals(log)).toBe(true);
    });

    it(`writes ${name}.log byte for byte with a tiny batch`, async () => {
      const { v, log } = load(name);
      const sink = new PassThrough();
      const out = collect(sink);
      const w = new LogWriter(sink, {
        clock: steppingClock(BigInt(v.clock_start_unix_nano), BigInt(v.clock_step_ns)),
        batchBytes: 1,
      });
      for (const { chunk_b64 } of v.writes) {
        const chunk = Buffer.from(chunk_b64, 'base64');
        // byte by byte, to cross every boundary
        for (let i = 0; i < chunk.length; i += 7) w.write(0, chunk.subarray(i, i + 7));
      }
      await w.close();
      expect((await out).equals(log)).toBe(true);
    });

    it(`reads ${name}.log as VIC's reader does`, async () => {
      const { v } = load(name);
      const got = [];
      for await (const e of readEntries(new URL(`${name}.log`, dir).pathname)) got.push(e);
      expect(
        got.map((e) => [
          e.timestamp.toString(),
          e.message.length,
          e.message.toString('base64'),
          e.stream,
        ]),
      ).toEqual(v.entries.map((e) => [String(e.ts_unix_nano), e.size, e.msg_b64, 0]));
    });
  }
});
