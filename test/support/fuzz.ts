// Bounded fuzzing for the unit project (so CI runs it): each fuzzer is a fast-check property run
// for `runs` inputs or `timeLimitMs`, whichever comes first. A failure throws fast-check's report
// (seed and shrunk counterexample, to replay with FUZZ_SEED). FUZZ_SCALE multiplies the runs
// and the time for a longer campaign; FUZZ_REPORT names a file that gets one line per fuzzer
// with the inputs it ran (the figures a campaign reports).
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { httpStatusOf } from '../../src/errdefs.js';

const scale = Number(process.env.FUZZ_SCALE ?? 1);

export async function fuzz(
  name: string,
  property:
    fc.IRawProperty<never> | fc.IAsyncPropertyWithHooks<never> | fc.IPropertyWithHooks<never>,
  { runs, timeLimitMs = 8000 }: { runs: number; timeLimitMs?: number },
): Promise<number> {
  const details = await fc.check(property as fc.IAsyncProperty<never>, {
    numRuns: Math.round(runs * scale),
    interruptAfterTimeLimit: Math.round(timeLimitMs * scale),
    markInterruptAsFailure: false,
    ...(process.env.FUZZ_SEED !== undefined && { seed: Number(process.env.FUZZ_SEED) }),
  });
  if (details.failed) throw new Error(`fuzzer ${name}: ${fc.defaultReportMessage(details)}`);
  if (process.env.FUZZ_REPORT)
    appendFileSync(process.env.FUZZ_REPORT, `${name}\t${details.numRuns}\n`);
  return details.numRuns;
}

/** Edits to apply to bytes: (position, operation, value) each. */
export type Edit = [number, number, number];
export const edits: fc.Arbitrary<Edit[]> = fc.array(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })),
  { maxLength: 8 },
);

/** Byte-level mutations of a valid input: overwrites, bit flips, cuts, duplications. */
export function mutate(b: Buffer, list: Edit[]): Buffer {
  let out = Buffer.from(b);
  for (const [at, op, v] of list) {
    if (out.length === 0) break;
    const i = at % out.length;
    if (op === 0) out[i] = v;
    else if (op === 1) out[i] ^= 1 << (v % 8);
    else if (op === 2) out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1 + (v % 32))]);
    else out = Buffer.concat([out.subarray(0, i), out.subarray(i, i + (v % 64)), out.subarray(i)]);
  }
  return out;
}

/** Splits bytes into chunks at arbitrary points (the chunk boundaries a stream may have). */
export function splitAt(b: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (b.length === 0 ? 0 : c % b.length)))].sort(
    (x, y) => x - y,
  );
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(b.subarray(last, p));
    last = p;
  }
  out.push(b.subarray(last));
  return out.filter((c) => c.length > 0);
}

/**
 * What bad input may end in: one clear refusal — an error of a kind (or an HttpError) that maps
 * to a 4xx status, with a one-line message; never a TypeError, a RangeError or a 5xx.
 */
export function expectRefusal(e: unknown): void {
  const status = httpStatusOf(e);
  if (!(status >= 400 && status < 500) || !(e instanceof Error) || e.message.includes('\n'))
    throw new Error(`not a clean refusal (status ${status}): ${String((e as Error)?.stack ?? e)}`);
}

/** Strings a parser may meet: the interesting ones, and any. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1e3',
    'NaN',
    'Infinity',
    '%',
    '%zz',
    '..',
    '../..',
    '/',
    '\0',
    'true',
    'false',
    '9007199254740993',
    '-0',
    '0x10',
    '2024-13-45T25:61:61Z',
    '1970-01-01T00:00:00Z',
    '\u2028',
    'a'.repeat(300),
  ),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
