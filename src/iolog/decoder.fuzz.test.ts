// Fuzzing the decoder with what a hostile container (or a torn file) can leave in a log: random
// bytes and mutations of valid logs, cut into arbitrary chunks. The reader never throws, ends,
// gives the same entries however the bytes are chunked, and never invents bytes; the query
// engine over the same file (since, tail, timestamps, limit) never throws and keeps its limit.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { edits, fuzz, mutate, splitAt } from '../../test/support/fuzz.js';
import { memoryWriter, T0 } from '../../test/support/iolog.js';
import { queryLog } from './query.js';
import { type LogEntry, readEntries } from './reader.js';

const dir = mkdtempSync(join(tmpdir(), 'iolog-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const writes = fc.array(fc.tuple(fc.constantFrom<0 | 1>(0, 1), fc.uint8Array({ maxLength: 300 })), {
  maxLength: 12,
});

async function logOf(list: [0 | 1, Uint8Array][]): Promise<Buffer> {
  const m = memoryWriter();
  for (const [stream, bytes] of list) m.writer.write(stream, bytes);
  return m.done();
}

/** Random bytes, or a valid log mutated. */
const logBytes = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }).map((b) => async () => Buffer.from(b)),
  fc.tuple(writes, edits).map(
    ([w, e]) =>
      async () =>
        mutate(await logOf(w), e),
  ),
);

async function entriesOf(chunks: Buffer[]): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  const source = (async function* () {
    yield* chunks;
  })();
  for await (const e of readEntries(source)) out.push(e);
  return out;
}

it('the reader takes any bytes, chunked anyhow, and gives the same entries', async () => {
  await fuzz(
    'iolog reader',
    fc.asyncProperty(logBytes, fc.array(fc.nat(), { maxLength: 6 }), async (make, cuts) => {
      const bytes = await make();
      const whole = await entriesOf([bytes]);
      expect(await entriesOf(splitAt(bytes, cuts))).toEqual(whole);
      expect(whole.reduce((n, e) => n + e.message.length, 0)).toBeLessThanOrEqual(bytes.length);
      for (const e of whole) expect([0, 1]).toContain(e.stream);
    }),
    { runs: 1500 },
  );
});

let files = 0;
it('the query engine takes any log file and any query, and keeps its byte limit', async () => {
  await fuzz(
    'iolog query',
    fc.asyncProperty(
      logBytes,
      fc.record(
        {
          since: fc.bigInt({ min: T0 - 10_000n, max: T0 + 100_000n }),
          tail: fc.nat({ max: 20 }),
          timestamps: fc.boolean(),
          limitBytes: fc.integer({ min: 1, max: 5000 }),
          stream: fc.constantFrom('stdout' as const, 'stderr' as const, 'all' as const),
        },
        { requiredKeys: [] },
      ),
      async (make, query) => {
        const path = join(dir, `log-${files++}`);
        writeFileSync(path, await make());
        let out = 0;
        for await (const chunk of queryLog(path, { ...query, blockBytes: 512 }))
          out += chunk.data.length;
        if (query.limitBytes !== undefined) expect(out).toBeLessThanOrEqual(query.limitBytes);
        rmSync(path);
      },
    ),
    { runs: 600 },
  );
});
