import { appendFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { steppingClock } from './clock.js';
import { LogWriter } from './writer.js';
import { type LogQuery, queryLog } from './query.js';
import { formatTime } from './time.js';
import { memoryWriter, T0 } from '../../test/support/iolog.js';

const dir = mkdtempSync(join(tmpdir(), 'iolog-query-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const b = (s: string) => Buffer.from(s);

/** Writes `lines` ([stream, text] pairs, one write each) with a clock stepping 1000 ns. */
async function logOf(lines: [0 | 1, string | Buffer][], step = 1000n): Promise<string> {
  const { writer, done } = memoryWriter({}, step);
  for (const [s, t] of lines) writer.write(s, typeof t === 'string' ? b(t) : t);
  const path = join(dir, `log${n++}`);
  writeFileSync(path, await done());
  return path;
}

async function run(path: string, q: LogQuery = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const both: string[] = [];
  for await (const c of queryLog(path, q)) {
    (c.stream === 0 ? out : err).push(c.data);
    both.push(c.data.toString());
  }
  return {
    out: Buffer.concat(out).toString(),
    err: Buffer.concat(err).toString(),
    both: both.join(''),
  };
}

/** The timestamp of the i-th entry written by `logOf` (clock step 1000). */
const tsOf = (i: number, step = 1000n) => T0 + step * BigInt(i + 1);

const abc: [0 | 1, string][] = [
  [0, 'a\n'],
  [1, 'b\n'],
  [0, 'c\n'],
  [1, 'd\n'],
];

describe('queryLog', () => {
  it('splits the streams and keeps their order', async () => {
    const r = await run(await logOf(abc));
    expect(r.out).toBe('a\nc\n');
    expect(r.err).toBe('b\nd\n');
    expect(r.both).toBe('a\nb\nc\nd\n');
  });

  it('since equal to an entry’s exact nanosecond includes it', async () => {
    const path = await logOf(abc);
    expect((await run(path, { since: tsOf(2) })).both).toBe('c\nd\n');
    expect((await run(path, { since: tsOf(2) + 1n })).both).toBe('d\n');
    expect((await run(path, { since: tsOf(3) + 1n })).both).toBe('');
    expect((await run(path, { since: 0n })).both).toBe('a\nb\nc\nd\n');
  });

  it('until equal to an entry’s exact nanosecond includes it', async () => {
    const path = await logOf(abc);
    expect((await run(path, { until: tsOf(1) })).both).toBe('a\nb\n');
    expect((await run(path, { until: tsOf(1) - 1n })).both).toBe('a\n');
    expect((await run(path, { since: tsOf(1), until: tsOf(2) })).both).toBe('b\nc\n');
  });

  it('tail counts lines of both streams and comes before since', async () => {
    const path = await logOf(abc);
    expect((await run(path, { tail: 0 })).both).toBe('');
    expect((await run(path, { tail: 1 })).both).toBe('d\n');
    expect((await run(path, { tail: 3 })).both).toBe('b\nc\nd\n');
    expect((await run(path, { tail: 100 })).both).toBe('a\nb\nc\nd\n');
    expect((await run(path, { tail: 3, stream: 'stdout' })).both).toBe('c\n');
    expect((await run(path, { tail: 3, since: tsOf(0) })).both).toBe('b\nc\nd\n');
    expect((await run(path, { tail: 3, since: tsOf(3) })).both).toBe('d\n');
    expect((await run(path, { tail: 1, since: tsOf(3) + 1n })).both).toBe('');
  });

  it('selects a stream', async () => {
    const path = await logOf(abc);
    expect((await run(path, { stream: 'stderr' })).both).toBe('b\nd\n');
    expect((await run(path, { stream: 'stdout' })).both).toBe('a\nc\n');
  });

  it('prefixes each logical line once with its first entry’s time', async () => {
    const long = 'x'.repeat(5000) + '\n'; // two entries, one line
    const path = await logOf([
      [0, long],
      [1, 'e\n'],
    ]);
    const r = await run(path, { timestamps: true });
    expect(r.out).toBe(`${formatTime(tsOf(0))} ${long}`);
    expect(r.err).toBe(`${formatTime(tsOf(2))} e\n`);
    expect(formatTime(tsOf(0))).toBe('2023-11-14T22:13:20.000001000Z');
  });

  it('treats a long line as one line for tail, since and until', async () => {
    const long = 'y'.repeat(9000) + '\n'; // entries 1..3
    const path = await logOf([
      [0, 'first\n'],
      [0, long],
      [0, 'last\n'],
    ]);
    expect((await run(path, { tail: 2 })).both).toBe(long + 'last\n');
    // since lands inside the long line (its second entry): the line started before since
    expect((await run(path, { since: tsOf(2) })).both).toBe('last\n');
    expect((await run(path, { since: tsOf(1) })).both).toBe(long + 'last\n');
    expect((await run(path, { until: tsOf(1) })).both).toBe('first\n' + long);
  });

  it('limits bytes, prefixes included', async () => {
    const path = await logOf(abc);
    expect((await run(path, { limitBytes: 3 })).both).toBe('a\nb');
    const r = await run(path, { limitBytes: 40, timestamps: true });
    expect(r.both).toBe(`${formatTime(tsOf(0))} a\n${formatTime(tsOf(1))}`.slice(0, 40));
    expect(r.both.length).toBe(40);
  });

  it('rejects bad queries with a clear error', async () => {
    const path = await logOf(abc);
    await expect(run(path, { tail: -1 })).rejects.toThrow(/invalid tail -1/);
    await expect(run(path, { tail: 1.5 })).rejects.toThrow(/invalid tail/);
    await expect(run(path, { limitBytes: 0 })).rejects.toThrow(/invalid limit-bytes/);
    await expect(run(path, { stream: 'both' as never })).rejects.toThrow(/invalid stream/);
    await expect(run(join(dir, 'missing'))).rejects.toMatchObject({ kind: 'NotFound' });
    await expect(run(dir)).rejects.toMatchObject({ kind: 'InvalidInput' });
  });

  it('skips a corrupt region and keeps every message byte around it', async () => {
    const { writer, done } = memoryWriter();
    writer.write(0, b('before\n'));
    const first = await done();
    const second = await (async () => {
      const m = memoryWriter();
      m.writer.write(1, b('after\n'));
      return m.done();
    })();
    const path = join(dir, `junk${n++}`);
    writeFileSync(
      path,
      Buffer.concat([b('\x00\xffgarbage!!'), first, b('serial noise \r\n'), second, b('tail')]),
    );
    const r = await run(path);
    expect(r.out).toBe('before\n');
    expect(r.err).toBe('after\n');
  });

  it('delivers the bytes of an entry cut short at the end of the file', async () => {
    const full = await (async () => {
      const m = memoryWriter();
      m.writer.write(0, b('complete\n'));
      m.writer.write(0, b('truncated line\n'));
      return m.done();
    })();
    const path = join(dir, `cut${n++}`);
    writeFileSync(path, full.subarray(0, full.length - 6));
    expect((await run(path)).out).toBe('complete\ntruncated');
  });

  it('reads a file of many blocks the same with any block size', async () => {
    const lines: [0 | 1, string][] = [];
    for (let i = 0; i < 20000; i++)
      lines.push([(i % 3 === 0 ? 1 : 0) as 0 | 1, `line ${i} ${'z'.repeat(i % 300)}\n`]);
    const path = await logOf(lines);
    const expected = lines.map(([, t]) => t).join('');
    expect((await run(path, { blockBytes: 64 * 1024 })).both).toBe(expected);
    expect((await run(path, { timestamps: true, blockBytes: 64 * 1024 })).both.length).toBe(
      expected.length + 31 * lines.length,
    );
    // since and tail deep inside it, against a plain filter
    for (const i of [0, 1, 777, 12345, 19999]) {
      expect((await run(path, { since: tsOf(i) })).both).toBe(
        lines
          .slice(i)
          .map(([, t]) => t)
          .join(''),
      );
      expect((await run(path, { tail: 20000 - i })).both).toBe(
        lines
          .slice(i)
          .map(([, t]) => t)
          .join(''),
      );
    }
  });

  it('tails through long lines that cross its 64 KiB read blocks', async () => {
    const lines: [0 | 1, string][] = [];
    let seed = 7;
    const rnd = (m: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % m;
    for (let i = 0; i < 400; i++)
      lines.push([rnd(2) as 0 | 1, `${i}:${'q'.repeat(rnd(3) === 0 ? rnd(20000) : rnd(50))}\n`]);
    const path = await logOf(lines);
    for (const k of [1, 2, 3, 17, 100, 399, 400, 401]) {
      const want = lines.slice(Math.max(0, lines.length - k));
      const r = await run(path, { tail: k });
      expect(r.out).toBe(
        want
          .filter(([st]) => st === 0)
          .map(([, t]) => t)
          .join(''),
      );
      expect(r.err).toBe(
        want
          .filter(([st]) => st === 1)
          .map(([, t]) => t)
          .join(''),
      );
    }
  });

  it('follows: sees appended entries and ends when the writer closes', async () => {
    const path = join(dir, `follow${n++}`);
    writeFileSync(path, '');
    const fh = await open(path, 'a');
    const sink = fh.createWriteStream();
    const writer = new LogWriter(sink, { clock: steppingClock(T0, 1000n) });
    writer.write(0, b('one\n'));
    writer.flush();
    let closed!: () => void;
    const writerClosed = new Promise<void>((r) => (closed = r));
    const seen: string[] = [];
    const times: number[] = [];
    let wrote = 0;
    const reading = (async () => {
      for await (const c of queryLog(path, { follow: true, writerClosed })) {
        seen.push(c.data.toString());
        times.push(performance.now() - wrote);
        if (seen.join('') === 'one\n') {
          wrote = performance.now();
          writer.write(1, b('two\n'));
        } else if (seen.join('') === 'one\ntwo\n') {
          writer.write(0, b('three'));
          await writer.close();
          closed();
        }
      }
    })();
    await reading;
    expect(seen.join('')).toBe('one\ntwo\nthree');
    expect(times[1]).toBeLessThan(100); // an appended entry reaches the reader within 100 ms
  });

  it('follow ends when aborted', async () => {
    const path = await logOf(abc);
    const ac = new AbortController();
    const got: string[] = [];
    setTimeout(() => ac.abort(), 50);
    for await (const c of queryLog(path, { follow: true, signal: ac.signal }))
      got.push(c.data.toString());
    expect(got.join('')).toBe('a\nb\nc\nd\n');
  });

  it('follow with tail 0 shows only what is appended', async () => {
    const path = await logOf(abc);
    const ac = new AbortController();
    const got: string[] = [];
    const reading = (async () => {
      for await (const c of queryLog(path, { follow: true, tail: 0, signal: ac.signal })) {
        got.push(c.data.toString());
        ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 30));
    const m = memoryWriter();
    m.writer.write(0, b('new\n'));
    appendFileSync(path, await m.done());
    await reading;
    expect(got.join('')).toBe('new\n');
  });
});
