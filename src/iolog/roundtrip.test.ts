// Property tests: whatever the writer is given, the reader gives it back, and the query engine
// agrees with a plain reference model of `docker logs` over the logical lines of the log.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from './clock.js';
import { MAX_MESSAGE, type StreamId } from './format.js';
import { type LogQuery, queryLog, type StreamSelection } from './query.js';
import { type LogEntry, readEntries } from './reader.js';
import { decodeAll, type DecodedEntry, memoryWriter, T0 } from '../../test/support/iolog.js';
import type { LogWriterOptions } from './writer.js';

const NL = 0x0a;
const dir = mkdtempSync(join(tmpdir(), 'iolog-roundtrip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

// --- generating writes ---------------------------------------------------------------------------

/** One write call's bytes, or a pause that lets timers (the hold timer) and flushes run. */
type Op =
  { kind: 'write'; stream: StreamId; data: Uint8Array; split: number[] } | { kind: 'pause' };

const fill = (n: number, byte: number, nl: boolean) => {
  const b = new Uint8Array(n + (nl ? 1 : 0)).fill(byte === NL ? 0x61 : byte);
  if (nl) b[n] = NL;
  return b;
};

/** Bytes of one write: short random bytes, the bytes that matter, lines around 4095 bytes. */
const bytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 80 }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      new Uint8Array(0),
      Uint8Array.of(0),
      Uint8Array.of(0xff),
      Uint8Array.of(NL),
      Uint8Array.of(NL, NL, NL),
      Uint8Array.of(0, NL, 0xff),
      Uint8Array.of(0xff, 0xff, NL, 0, 0),
      Buffer.from('AAAAAAAAAAAAAA==\n'), // header-shaped message bytes
      Buffer.from('BQAAAAAAAABQAA==fake\n'), // a whole entry as message bytes
      Buffer.concat([Buffer.alloc(4000, 'q'), Buffer.from('BQAAAAAAAABQAA==fake\n')]),
    ),
  },
  {
    weight: 2,
    // Lines (with or without their newline) of the lengths where entries are cut.
    arbitrary: fc
      .record({
        n: fc.oneof(
          fc.constantFrom(4094, 4095, 4096, 4097, 8189, 8190, 8191, 12285),
          fc.integer({ min: 1, max: 10000 }),
        ),
        byte: fc.integer({ min: 0, max: 255 }),
        nl: fc.boolean(),
      })
      .map(({ n, byte, nl }) => fill(nl ? n - 1 : n, byte, nl)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 3000, maxLength: 9000 }) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      stream: fc.constantFrom<StreamId>(0, 1),
      data: bytesArb,
      // The write is made in chunks of these sizes (cycled; 0 is an empty write).
      split: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
);

/**
 * A long line left open on one stream (its first 4095 bytes are out, no '\n' yet), output of
 * the other stream (held back meanwhile), then the rest of the long line and more after it.
 */
const longLineArb: fc.Arbitrary<Op[]> = fc
  .record({
    a: fc.constantFrom<StreamId>(0, 1),
    n: fc.integer({ min: 4095, max: 9000 }),
    other: fc.array(bytesArb, { minLength: 1, maxLength: 3 }),
    rest: bytesArb,
    more: bytesArb,
  })
  .map(({ a, n, other, rest, more }) => {
    const w = (stream: StreamId, data: Uint8Array): Op => ({
      kind: 'write',
      stream,
      data,
      split: [0],
    });
    const b = (a ^ 1) as StreamId;
    const end = Buffer.concat([rest.filter((x) => x !== NL), Uint8Array.of(NL), more]);
    return [w(a, fill(n, 0x78, false)), ...other.map((o) => w(b, o)), w(a, end)];
  });

/** Writes and pauses, with the long-line case made common. */
const opsArb = (maxLength: number): fc.Arbitrary<Op[]> =>
  fc
    .array(
      fc.oneof(
        { weight: 10, arbitrary: opArb.map((op) => [op]) },
        { weight: 1, arbitrary: longLineArb },
      ),
      { maxLength },
    )
    .map((ops) => ops.flat());

const optionsArb: fc.Arbitrary<LogWriterOptions> = fc.record(
  {
    batchBytes: fc.constantFrom(1, 9000, 70_000, 256 * 1024),
    holdMs: fc.constantFrom(0, 50),
    holdBytes: fc.constantFrom(1, 100, 5000, 1 << 20),
  },
  { requiredKeys: [] },
);

/** Non-negative clock steps (0 included: equal timestamps), cycled. */
const stepsArb = fc.array(fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 5000n })), {
  minLength: 1,
  maxLength: 6,
});

function cyclingClock(steps: bigint[]): Clock {
  let now = T0;
  let i = 0;
  return () => (now += steps[i++ % steps.length]);
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Runs the ops through a LogWriter; returns the log and each stream's input. */
async function writeLog(ops: Op[], options: LogWriterOptions, steps: bigint[]) {
  const { writer, done } = memoryWriter({ ...options, clock: cyclingClock(steps) });
  const input: [Buffer[], Buffer[]] = [[], []];
  for (const op of ops) {
    if (op.kind === 'pause') {
      await pause();
      continue;
    }
    input[op.stream].push(Buffer.from(op.data));
    if (op.data.length === 0) {
      writer.write(op.stream, new Uint8Array(0));
      continue;
    }
    const sizes = op.split.every((s) => s === 0) ? [op.data.length] : op.split;
    for (let i = 0, k = 0; i < op.data.length; k++) {
      const n = sizes[k % sizes.length];
      // A copy that is spoilt after the call: the writer must not keep the caller's memory.
      const chunk = Buffer.from(op.data.subarray(i, i + n));
      writer.write(op.stream, chunk);
      chunk.fill(0xee);
      i += n;
    }
  }
  const log = await done();
  return { log, input: [Buffer.concat(input[0]), Buffer.concat(input[1])] as const };
}

// --- checking decoded entries --------------------------------------------------------------------

interface Entry {
  ts: bigint;
  stream: number;
  message: Buffer;
}

const fromReader = (e: LogEntry): Entry => ({
  ts: e.timestamp,
  stream: e.stream,
  message: e.message,
});
const fromDecoded = (e: DecodedEntry): Entry => ({
  ts: e.ts,
  stream: e.stream,
  message: e.message,
});

/** Entries as strings: quick to compare, and readable in a failure. */
const flat = (entries: Entry[]) =>
  entries.map((e) => `${e.ts} ${e.stream} ${e.message.toString('base64')}`);

/** What the writer promises about the entries of its log, given each stream's input. */
function checkEntries(entries: Entry[], input: readonly [Buffer, Buffer]): void {
  for (const s of [0, 1]) {
    const mine = entries.filter((e) => e.stream === s);
    expect(Buffer.concat(mine.map((e) => e.message)).equals(input[s])).toBe(true);
    mine.forEach((e, i) => {
      expect(e.message.length).toBeGreaterThan(0);
      expect(e.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
      if (i < mine.length - 1) {
        const ok = e.message.length === MAX_MESSAGE || e.message[e.message.length - 1] === NL;
        expect(ok, `entry ${i} of stream ${s} (${e.message.length} bytes) is cut mid-line`).toBe(
          true,
        );
      }
    });
  }
  for (let i = 1; i < entries.length; i++) expect(entries[i].ts >= entries[i - 1].ts).toBe(true);
}

/** The log delivered in chunks of the given sizes (cycled; 0 is an empty chunk). */
async function* chunked(log: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  const cycle = sizes.every((s) => s === 0) ? [1] : sizes;
  for (let i = 0, k = 0; i < log.length; k++) {
    const n = cycle[k % cycle.length];
    yield log.subarray(i, i + n);
    i += n;
  }
}

async function collect(source: string | AsyncIterable<Uint8Array>): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of readEntries(source)) out.push(fromReader(e));
  return out;
}

function saveLog(log: Uint8Array): string {
  const path = join(dir, `log${files++}`);
  writeFileSync(path, log);
  return path;
}

/** Sizes of the chunks the reader is given (cycled): single bytes, and any size at all. */
const chunkSizesArb = fc.array(
  fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 20 }) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 9000 }) },
  ),
  { minLength: 1, maxLength: 5 },
);

/** Garbage that cannot form a header: no '=' (a header ends in "=="). */
const garbageArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((g) => g.map((x) => (x === 0x3d ? 0x3e : x))),
  // base64 characters only: the junk most like a header
  fc
    .string({
      unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'),
      minLength: 1,
      maxLength: 40,
    })
    .map((s) => Buffer.from(s)),
  fc.constantFrom(
    Buffer.from('\r\n'),
    Buffer.from('\n'),
    Buffer.from([0]),
    Buffer.from('AAAAAAAAAAAAAA='),
  ),
);

/** Inserts garbage at entry boundaries (the start and end of the log included). */
function garble(log: Buffer, inserts: { at: number; junk: Uint8Array }[]): Buffer {
  const bounds = [...decodeAll(log).map((e) => e.offset), log.length];
  const at = new Map<number, Uint8Array[]>();
  for (const { at: i, junk } of inserts) {
    const b = bounds[i % bounds.length];
    at.set(b, [...(at.get(b) ?? []), junk]);
  }
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const b of [...new Set(bounds)].sort((x, y) => x - y)) {
    parts.push(log.subarray(prev, b), ...(at.get(b) ?? []));
    prev = b;
  }
  return Buffer.concat(parts);
}

const insertsArb = fc.array(fc.record({ at: fc.nat(), junk: garbageArb }), {
  minLength: 1,
  maxLength: 8,
});

// --- the reference model of queries --------------------------------------------------------------

interface Line {
  stream: number;
  ts: bigint;
  data: Buffer;
}

/** Logical lines: runs of same-stream entries continued by 4095-byte entries without '\n'. */
function linesOf(entries: Entry[]): Line[] {
  const lines: { stream: number; ts: bigint; parts: Buffer[] }[] = [];
  let continues = false;
  let prevStream = -1;
  for (const e of entries) {
    if (continues && e.stream === prevStream) lines[lines.length - 1].parts.push(e.message);
    else lines.push({ stream: e.stream, ts: e.ts, parts: [e.message] });
    continues = e.message.length === MAX_MESSAGE && e.message[MAX_MESSAGE - 1] !== NL;
    prevStream = e.stream;
  }
  return lines.map((l) => ({ stream: l.stream, ts: l.ts, data: Buffer.concat(l.parts) }));
}

/** `2006-01-02T15:04:05.000000000Z `, computed independently of time.ts. */
function refPrefix(ns: bigint): string {
  const NS = 1_000_000_000n;
  let sec = ns / NS;
  if (sec * NS > ns) sec -= 1n;
  const frac = ns - sec * NS;
  const iso = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  return `${iso}.${frac.toString().padStart(9, '0')}Z `;
}

interface Run {
  stream: number;
  data: Buffer;
}

function model(lines: Line[], q: LogQuery): Run[] {
  let ls = lines;
  if (q.tail !== undefined) ls = q.tail === 0 ? [] : ls.slice(-q.tail);
  if (q.since !== undefined) {
    const i = ls.findIndex((l) => l.ts >= q.since!);
    ls = i < 0 ? [] : ls.slice(i);
  }
  if (q.until !== undefined) {
    const i = ls.findIndex((l) => l.ts > q.until!);
    if (i >= 0) ls = ls.slice(0, i);
  }
  const sel = q.stream ?? 'all';
  ls = ls.filter((l) => sel === 'all' || (sel === 'stdout') === (l.stream === 0));
  const runs: Run[] = [];
  let left = q.limitBytes ?? Infinity;
  for (const l of ls) {
    if (left <= 0) break;
    let data = q.timestamps ? Buffer.concat([Buffer.from(refPrefix(l.ts)), l.data]) : l.data;
    if (data.length > left) data = data.subarray(0, left);
    left -= data.length;
    runs.push({ stream: l.stream, data });
  }
  return merge(runs);
}

/** Joins adjacent runs of one stream and drops empty ones, so chunkings compare equal. */
function merge(runs: Run[]): Run[] {
  const out: { stream: number; parts: Buffer[] }[] = [];
  for (const r of runs) {
    if (r.data.length === 0) continue;
    const last = out[out.length - 1];
    if (last && last.stream === r.stream) last.parts.push(r.data);
    else out.push({ stream: r.stream, parts: [r.data] });
  }
  return out.map((r) => ({ stream: r.stream, data: Buffer.concat(r.parts) }));
}

async function query(path: string, q: LogQuery): Promise<Run[]> {
  const runs: Run[] = [];
  // Copy: a chunk's memory is only promised until the next one is asked for.
  for await (const c of queryLog(path, q))
    runs.push({ stream: c.stream, data: Buffer.from(c.data) });
  return merge(runs);
}

const show = (runs: Run[]) =>
  runs.map((r) => `${r.stream}:${r.data.length}:${r.data.toString('hex').slice(0, 64)}`);

/** Many short lines of both streams at once: logs big enough for blocks, seeks and windows. */
const bulkArb: fc.Arbitrary<Op[]> = fc
  .record({
    count: fc.integer({ min: 200, max: 4000 }),
    seed: fc.nat(1000),
    every: fc.integer({ min: 2, max: 7 }),
  })
  .map(({ count, seed, every }) => {
    const ops: Op[] = [];
    for (let i = 0; i < count; i++) {
      const len = (seed * 31 + i * 17) % 250;
      const text = `${i} ${'z'.repeat(len)}\n`;
      ops.push({
        kind: 'write',
        stream: (i % every === 0 ? 1 : 0) as StreamId,
        data: Buffer.from(text),
        split: [0],
      });
    }
    return ops;
  });

/** A query, given selectors that are mapped onto the log's own timestamps and lines. */
const queryArb = fc.record({
  tail: fc.option(fc.nat(5000), { nil: undefined }),
  since: fc.option(fc.record({ i: fc.nat(), d: fc.constantFrom(-1n, 0n, 1n) }), { nil: undefined }),
  until: fc.option(fc.record({ i: fc.nat(), d: fc.constantFrom(-1n, 0n, 1n) }), { nil: undefined }),
  stream: fc.option(fc.constantFrom<StreamSelection>('stdout', 'stderr', 'all'), {
    nil: undefined,
  }),
  timestamps: fc.boolean(),
  limitBytes: fc.option(
    fc.oneof(
      fc.integer({ min: 1, max: 100 }),
      fc.nat(1 << 20).map((n) => n + 1),
    ),
    {
      nil: undefined,
    },
  ),
  blockBytes: fc.option(fc.integer({ min: 65536, max: 300_000 }), { nil: undefined }),
  recycle: fc.boolean(),
});
type QuerySpec = typeof queryArb extends fc.Arbitrary<infer T> ? T : never;

function toQuery(spec: QuerySpec, lines: Line[], entries: Entry[]): LogQuery {
  const times = entries.length > 0 ? entries.map((e) => e.ts) : [T0];
  const at = (s: { i: number; d: bigint }) => times[s.i % times.length] + s.d;
  return {
    tail: spec.tail === undefined ? undefined : spec.tail % (lines.length + 3),
    since: spec.since && at(spec.since),
    until: spec.until && at(spec.until),
    stream: spec.stream,
    timestamps: spec.timestamps,
    limitBytes: spec.limitBytes,
    blockBytes: spec.blockBytes,
    recycle: spec.recycle,
  };
}

// --- the properties ------------------------------------------------------------------------------

/** Each property stops after 20 s, shrinking included (it reports what it has by then). */
const budget = { interruptAfterTimeLimit: 20_000 };

/** Each stream's bytes in a log, as text. */
const streamsOf = (log: Buffer) =>
  [0, 1].map((s) =>
    Buffer.concat(
      decodeAll(log)
        .filter((e) => e.stream === s)
        .map((e) => e.message),
    ).toString(),
  );

/**
 * A whole entry (header: 5 ns, stdout, 5 bytes; then "fake\n") as message bytes: what a
 * container that prints a log of this format, or lines of base64, can write. Ending a line, it
 * is followed by the next real header, so it looks like a confirmed entry from inside a message.
 */
const innerEntry = Buffer.from('BQAAAAAAAABQAA==fake\n');

describe('iolog round trip (examples)', () => {
  // One stream's long line is open (4095 bytes written, no '\n' yet), so the other stream's
  // output is held back. The chunk that ends the long line releases it: the held output must
  // not take the place of the rest of that chunk.
  it('keeps the rest of the chunk that ends a long line and releases held output', async () => {
    const { writer, done } = memoryWriter();
    writer.write(1, Buffer.alloc(4095, 'x'));
    writer.write(0, Buffer.from('OUT\n'));
    writer.write(1, Buffer.from('\nAB\n'));
    const [out, err] = streamsOf(await done());
    expect(out).toBe('OUT\n');
    expect(err).toBe('x'.repeat(4095) + '\nAB\n');
  });

  it('the same when the long line ends in its unterminated remainder', async () => {
    const { writer, done } = memoryWriter();
    writer.write(0, Buffer.alloc(4098, 'x')); // 4095 written, "xxx" pending
    writer.write(1, Buffer.from('ERR\n'));
    writer.write(0, Buffer.from('y\nAB\n'));
    const [out, err] = streamsOf(await done());
    expect(out).toBe('x'.repeat(4098) + 'y\nAB\n');
    expect(err).toBe('ERR\n');
  });

  describe('a log whose messages end with whole entries', () => {
    let path: string;
    let entries: Entry[];
    beforeAll(async () => {
      const { writer, done } = memoryWriter();
      for (let i = 0; i < 3000; i++) {
        const line =
          i % 5 === 0
            ? Buffer.concat([Buffer.from(`${i} ${'q'.repeat(4000)}`), innerEntry])
            : Buffer.from(`${i} ${'x'.repeat(i % 100)}\n`);
        writer.write(0, line);
      }
      const log = await done();
      entries = decodeAll(log).map(fromDecoded);
      expect(entries.length).toBe(3000);
      path = saveLog(log);
    });
    const text = (es: Entry[]) => Buffer.concat(es.map((e) => e.message)).toString('latin1');
    const run = async (q: LogQuery) => {
      const parts: Buffer[] = [];
      for await (const c of queryLog(path, q)) parts.push(Buffer.from(c.data));
      return Buffer.concat(parts).toString('latin1');
    };

    it('reads all of it', async () => {
      expect(await run({})).toBe(text(entries));
    });

    it('since starts at the first line at or after it', async () => {
      for (const k of [0, 1, 1500, 2990]) {
        const got = await run({ since: entries[k].ts });
        expect(got.length, `since entry ${k}`).toBe(text(entries.slice(k)).length);
        expect(got === text(entries.slice(k)), `since entry ${k}`).toBe(true);
      }
    });

    it('tail gives the last N lines', async () => {
      for (const k of [1, 99, 1000, 2999]) {
        const got = await run({ tail: k });
        expect(got.length, `tail ${k}`).toBe(text(entries.slice(-k)).length);
        expect(got === text(entries.slice(-k)), `tail ${k}`).toBe(true);
      }
    });
  });
});

describe('iolog round trip (properties)', () => {
  it('gives every byte of each stream back, in entries cut only at line ends or 4095 bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        opsArb(30),
        optionsArb,
        stepsArb,
        chunkSizesArb,
        async (ops, options, steps, sizes) => {
          const { log, input } = await writeLog(ops, options, steps);
          const fromChunks = await collect(chunked(log, sizes));
          checkEntries(fromChunks, input);
          const fromFile = await collect(saveLog(log));
          expect(flat(fromFile)).toEqual(flat(fromChunks));
          expect(flat(fromChunks)).toEqual(flat(decodeAll(log).map(fromDecoded)));
        },
      ),
      { numRuns: 200, ...budget },
    );
  }, 60_000);

  it('skips garbage between entries and still gives every entry back unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(
        opsArb(20),
        optionsArb,
        stepsArb,
        insertsArb,
        chunkSizesArb,
        async (ops, options, steps, inserts, sizes) => {
          const { log, input } = await writeLog(ops, options, steps);
          const original = decodeAll(log).map(fromDecoded);
          const garbled = garble(log, inserts);
          const fromChunks = await collect(chunked(garbled, sizes));
          expect(flat(fromChunks)).toEqual(flat(original));
          checkEntries(fromChunks, input);
          expect(flat(await collect(saveLog(garbled)))).toEqual(flat(original));
        },
      ),
      { numRuns: 200, ...budget },
    );
  }, 60_000);

  it('answers queries as the reference model of docker logs does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 2, arbitrary: opsArb(30) },
          {
            weight: 1,
            arbitrary: fc.tuple(opsArb(10), bulkArb).map(([a, b]) => [...a, ...b]),
          },
        ),
        optionsArb,
        stepsArb,
        fc.option(insertsArb, { nil: undefined }),
        fc.array(queryArb, { minLength: 1, maxLength: 6 }),
        async (ops, options, steps, inserts, specs) => {
          const { log } = await writeLog(ops, options, steps);
          const entries = decodeAll(log).map(fromDecoded);
          const lines = linesOf(entries);
          const path = saveLog(inserts ? garble(log, inserts) : log);
          for (const spec of specs) {
            const q = toQuery(spec, lines, entries);
            const got = await query(path, q);
            const want = model(lines, q);
            const ctx = JSON.stringify(q, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
            for (const s of [0, 1]) {
              const g = Buffer.concat(got.filter((r) => r.stream === s).map((r) => r.data));
              const w = Buffer.concat(want.filter((r) => r.stream === s).map((r) => r.data));
              expect(
                g.equals(w),
                `stream ${s} of ${ctx}: ${g.length} bytes, want ${w.length}`,
              ).toBe(true);
            }
            // The interleaving of the streams, too.
            expect(show(got), ctx).toEqual(show(want));
          }
        },
      ),
      { numRuns: 100, ...budget },
    );
  }, 60_000);
});
