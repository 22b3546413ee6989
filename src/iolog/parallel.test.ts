// The parallel paths must give exactly what the single-threaded ones give. Worker threads load
// compiled JavaScript, so these tests drive the build in dist/ (npm test builds first).
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import * as built from '../../dist/iolog/index.js';
import type * as Iolog from './index.js';

const lib = built as unknown as typeof Iolog;
const {
  LogWriter,
  WorkerPool,
  decodeParallel,
  encodeParallel,
  queryLog,
  scanEntries,
  LineSelector,
  steppingClock,
} = lib;

const dir = mkdtempSync(join(tmpdir(), 'iolog-parallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pool = new WorkerPool(2);
const handovers: number[] = [];
afterAll(() => pool.close());

let seed = 99;
const rnd = (m: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % m;

/** A log with long lines, both streams, junk between entries and entries inside messages. */
async function trickyLog(lines: number): Promise<Buffer> {
  const sink = new PassThrough();
  const parts: Buffer[] = [];
  sink.on('data', (c: Buffer) => parts.push(Buffer.from(c)));
  const w = new LogWriter(sink, { clock: steppingClock(1_700_000_000_000_000_000n, 1000n) });
  // A line whose text is itself a whole log entry: header-shaped bytes inside a message.
  const inner = await (async () => {
    const s = new PassThrough();
    const p: Buffer[] = [];
    s.on('data', (c: Buffer) => p.push(c));
    const iw = new LogWriter(s, { clock: steppingClock(5n, 5n) });
    iw.write(0, Buffer.from('fake\n'));
    await iw.close();
    return Buffer.concat(p);
  })();
  for (let i = 0; i < lines; i++) {
    const kind = rnd(20);
    const text =
      kind === 0
        ? Buffer.alloc(rnd(12000), 0x61 + (i % 26))
        : kind === 1
          ? inner
          : Buffer.from(`${i} ${'x'.repeat(rnd(200))}`);
    w.write(rnd(3) === 0 ? 1 : 0, Buffer.concat([text, Buffer.from(kind === 1 ? '' : '\n')]));
    if (rnd(50) === 0) {
      w.flush();
      sink.write(Buffer.from('junk\x00\xff serial noise\r\n'.slice(0, 1 + rnd(20))));
    }
  }
  await w.close();
  return Buffer.concat(parts);
}

async function sequential(path: string, stream?: 'stdout' | 'stderr' | 'all'): Promise<string[]> {
  const out: string[] = [];
  for await (const c of queryLog(path, { stream }))
    out.push(`${c.stream}:${c.data.toString('latin1')}`);
  return merge(out);
}

/** Adjacent chunks of one stream joined, so that differently cut outputs compare equal. */
function merge(chunks: string[]): string[] {
  const out: string[] = [];
  for (const c of chunks) {
    if (out.length > 0 && out[out.length - 1][0] === c[0]) out[out.length - 1] += c.slice(2);
    else out.push(c);
  }
  return out;
}

describe('decodeParallel', () => {
  it('gives what the sequential reader gives, at any block size', async () => {
    const log = await trickyLog(3000);
    const path = join(dir, 'tricky.log');
    writeFileSync(path, log);
    for (const stream of ['all', 'stderr'] as const) {
      const want = await sequential(path, stream);
      for (const blockBytes of [4200, 9000, 65536, 1 << 20]) {
        const fh = await open(path);
        const got: string[] = [];
        const gen = decodeParallel(fh, 0, log.length, pool, { final: true, blockBytes, stream });
        let r = await gen.next();
        while (!r.done) {
          got.push(`${r.value.stream}:${r.value.data.toString('latin1')}`);
          r = await gen.next();
        }
        handovers.push(log.length - r.value);
        // the rest, single-threaded, from where the parallel decoder handed over
        const rest = log.subarray(r.value);
        const sel = new LineSelector({ stream });
        const copy = Buffer.from(rest);
        sel.begin(copy);
        scanEntries(copy, 0, copy.length, true, sel);
        for (const c of sel.chunks()) got.push(`${c.stream}:${c.data.toString('latin1')}`);
        await fh.close();
        expect(merge(got)).toEqual(want);
      }
    }
    // Both ways were taken: to the end in parallel, and a hand-over where a worker started on
    // header-shaped bytes inside a message.
    expect(handovers.filter((h) => h === 0).length).toBeGreaterThan(0);
    expect(handovers.filter((h) => h > 0).length).toBeGreaterThan(0);
  });

  it('is used by queryLog for big reads, with the same output', async () => {
    const log = await trickyLog(60000);
    const path = join(dir, 'big.log');
    writeFileSync(path, Buffer.concat([log, log, log])); // > 16 MiB
    const want = await sequential(path);
    const got: string[] = [];
    for await (const c of queryLog(path, { workers: 2, recycle: false }))
      got.push(`${c.stream}:${c.data.toString('latin1')}`);
    expect(merge(got)).toEqual(want);
  });
});

describe('encodeParallel', () => {
  it('writes what the single-threaded writer writes with one clock reading per chunk', async () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const parts: string[] = [];
      const n = rnd(6);
      for (let j = 0; j < n; j++)
        parts.push(
          rnd(8) === 0 ? 'L'.repeat(rnd(15000)) : `line ${i}.${j}${rnd(3) === 0 ? '' : '\n'}`,
        );
      chunks.push(Buffer.from(parts.join('')));
    }
    // single-threaded: the clock moves once per write and once for close
    const seqSink = new PassThrough();
    const seqParts: Buffer[] = [];
    seqSink.on('data', (c: Buffer) => seqParts.push(Buffer.from(c)));
    let t = 0n;
    const w = new LogWriter(seqSink, { clock: () => t });
    const step = steppingClock(1_000_000n, 1000n);
    for (const c of chunks) {
      t = step();
      w.write(1, c);
    }
    t = step();
    await w.close();

    const parSink = new PassThrough();
    const parParts: Buffer[] = [];
    parSink.on('data', (c: Buffer) => parParts.push(Buffer.from(c)));
    async function* input() {
      yield* chunks;
    }
    await encodeParallel(input(), 1, parSink, pool, steppingClock(1_000_000n, 1000n));
    expect(Buffer.concat(parParts).equals(Buffer.concat(seqParts))).toBe(true);
  });
});
