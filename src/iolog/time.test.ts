// A zone with a half-hour offset and daylight saving time, so that local-time parsing is
// really tested (Node applies a TZ set at run time to every Date made after it).
process.env.TZ = 'America/St_Johns';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from './errors.js';
import { formatTime, parseTime, TIMESTAMP_PREFIX_LENGTH, TimestampFormatter } from './time.js';

const NOW = 1_700_000_000_123_456_789n;
const MS = 1_000_000n;
const S = 1_000_000_000n;
const utc = (...a: [number, number, number, number?, number?, number?]) =>
  BigInt(Date.UTC(a[0], a[1] - 1, a[2], a[3] ?? 0, a[4] ?? 0, a[5] ?? 0)) * MS;
const local = (...a: [number, number, number, number?, number?, number?]) =>
  BigInt(new Date(a[0], a[1] - 1, a[2], a[3] ?? 0, a[4] ?? 0, a[5] ?? 0).getTime()) * MS;
const parse = (s: string) => parseTime(s, NOW);

describe('parseTime', () => {
  it('runs in a zone that is not UTC', () => {
    expect(new Date(2006, 0, 2).getTimezoneOffset()).toBe(210);
    expect(new Date(2006, 6, 2).getTimezoneOffset()).toBe(150);
  });

  it('reads RFC 3339 in UTC', () => {
    expect(parse('2006-01-02T15:04:05Z')).toBe(utc(2006, 1, 2, 15, 4, 5));
    expect(parse('2006-01-02t15:04:05z')).toBe(utc(2006, 1, 2, 15, 4, 5));
    expect(parse('2006-01-02 15:04:05Z')).toBe(utc(2006, 1, 2, 15, 4, 5));
    expect(parse('1970-01-01T00:00:00Z')).toBe(0n);
    expect(parse('2023-11-14T22:13:20Z')).toBe(1_700_000_000n * S);
    expect(parse('1969-12-31T23:59:59Z')).toBe(-S);
    expect(parse('2024-02-29T00:00:00Z')).toBe(utc(2024, 2, 29));
    expect(parse('2000-02-29T12:00:00Z')).toBe(utc(2000, 2, 29, 12));
  });

  it('reads RFC 3339 with an offset', () => {
    expect(parse('2006-01-02T15:04:05+07:00')).toBe(utc(2006, 1, 2, 8, 4, 5));
    expect(parse('2006-01-02T15:04:05-03:30')).toBe(utc(2006, 1, 2, 18, 34, 5));
    expect(parse('2006-01-02T15:04:05+00:00')).toBe(utc(2006, 1, 2, 15, 4, 5));
    expect(parse('2006-01-02T15:04:05-00:00')).toBe(utc(2006, 1, 2, 15, 4, 5));
    // across midnight, both ways
    expect(parse('2006-01-01T02:00:00+05:45')).toBe(utc(2005, 12, 31, 20, 15));
    expect(parse('2006-12-31T22:00:00-02:30')).toBe(utc(2007, 1, 1, 0, 30));
  });

  it('reads fractions of 1 to 9 digits, exact to the nanosecond', () => {
    const digits = '123456789';
    for (let k = 1; k <= 9; k++) {
      const frac = digits.slice(0, k);
      const ns = BigInt(frac.padEnd(9, '0'));
      expect(parse(`2006-01-02T15:04:05.${frac}Z`), frac).toBe(utc(2006, 1, 2, 15, 4, 5) + ns);
      expect(parse(`2006-01-02T15:04:05.${frac}+07:00`), frac).toBe(utc(2006, 1, 2, 8, 4, 5) + ns);
      expect(parse(`2006-01-02T15:04:05.${frac}-03:30`), frac).toBe(
        utc(2006, 1, 2, 18, 34, 5) + ns,
      );
      expect(parse(`2006-01-02T15:04:05.${frac}`), frac).toBe(local(2006, 1, 2, 15, 4, 5) + ns);
    }
    expect(parse('2006-01-02T15:04:05.000000001Z')).toBe(utc(2006, 1, 2, 15, 4, 5) + 1n);
    expect(parse('2006-01-02T15:04:05.999999999Z')).toBe(utc(2006, 1, 2, 15, 4, 6) - 1n);
    expect(parse('1969-12-31T23:59:59.5Z')).toBe(-S / 2n);
    expect(() => parse('2006-01-02T15:04:05.1234567891Z')).toThrow(InvalidInputError);
  });

  it('reads times without a zone, and bare dates, as local time like Docker', () => {
    expect(parse('2006-01-02T15:04:05')).toBe(local(2006, 1, 2, 15, 4, 5));
    expect(parse('2006-07-02T15:04:05')).toBe(local(2006, 7, 2, 15, 4, 5)); // summer time
    expect(parse('2006-01-02 15:04:05')).toBe(local(2006, 1, 2, 15, 4, 5));
    expect(parse('2006-01-02T15:04')).toBe(local(2006, 1, 2, 15, 4));
    expect(parse('2006-01-02')).toBe(local(2006, 1, 2));
    expect(parse('2006-07-02')).toBe(local(2006, 7, 2));
    expect(parse('2024-02-29')).toBe(local(2024, 2, 29));
    // Not UTC: St. John's is 3½ hours behind in winter.
    expect(parse('2006-01-02')).toBe(utc(2006, 1, 2, 3, 30));
  });

  it('reads Unix seconds with and without a fraction', () => {
    expect(parse('0')).toBe(0n);
    expect(parse('1136073600')).toBe(1_136_073_600n * S);
    expect(parse('1136073600.5')).toBe(1_136_073_600n * S + S / 2n);
    expect(parse('1136073600.000000001')).toBe(1_136_073_600_000_000_001n);
    expect(parse('1136073600.999999999')).toBe(1_136_073_600_999_999_999n);
    expect(parse('1700000000.123456789')).toBe(1_700_000_000_123_456_789n);
    expect(parse('-1')).toBe(-S);
    expect(parse('-1.5')).toBe(-S - S / 2n);
    expect(parse('-0.5')).toBe(-S / 2n);
    expect(parse('-0.000000001')).toBe(-1n);
    expect(parse('  1136073600  ')).toBe(1_136_073_600n * S);
    expect(() => parse('1136073600.0000000001')).toThrow(InvalidInputError);
  });

  it('reads durations as that long before now', () => {
    expect(parse('90s')).toBe(NOW - 90n * S);
    expect(parse('10m')).toBe(NOW - 600n * S);
    expect(parse('2h')).toBe(NOW - 7200n * S);
    expect(parse('1h30m')).toBe(NOW - 5400n * S);
    expect(parse('1.5h')).toBe(NOW - 5400n * S);
    expect(parse('250ms')).toBe(NOW - 250n * MS);
    expect(parse('10us')).toBe(NOW - 10_000n);
    expect(parse('10µs')).toBe(NOW - 10_000n);
    expect(parse('5ns')).toBe(NOW - 5n);
    expect(parse('1h2m3s4ms5us6ns')).toBe(NOW - (3723n * S + 4n * MS + 5_006n));
    expect(parse('0.5s')).toBe(NOW - S / 2n);
    expect(parse('.5s')).toBe(NOW - S / 2n);
    expect(parse('0s')).toBe(NOW);
  });

  it('rejects what it cannot read with an InvalidInputError', () => {
    for (const bad of [
      '',
      '   ',
      'yesterday',
      '2023-13-01T00:00:00Z',
      '2023-00-01T00:00:00Z',
      '2023-02-30',
      '2023-02-29',
      '1900-02-29',
      '2023-04-31T00:00:00Z',
      '2023-01-01T24:00:00Z',
      '2023-01-01T23:60:00Z',
      '2023-01-01T23:59:60Z',
      '2023-01-01T00:00:00+24:00',
      '2023-01-01T00:00:00+01:60',
      '2023-01-01T00:00:00 Z',
      '25:00',
      '10x',
      '1h-5m',
      '1h 5m',
      'h',
      '1.2.3',
      '2006-01-02T15:04:05.Z',
    ]) {
      let err: unknown;
      try {
        parse(bad);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).kind).toBe('InvalidInput');
    }
  });

  it('names the argument and the text in its error', () => {
    expect(() => parseTime('yesterday', NOW, '--since')).toThrow(/invalid --since "yesterday"/);
    expect(() => parseTime('10x', NOW)).toThrow(/invalid time "10x"/);
  });

  it('reads back what formatTime writes (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (ns) => {
        expect(parseTime(formatTime(ns), NOW)).toBe(ns);
      }),
      { numRuns: 500 },
    );
  });
});

describe('formatTime', () => {
  it('writes nine fraction digits and Z', () => {
    expect(formatTime(1_700_000_000_000_001_000n)).toBe('2023-11-14T22:13:20.000001000Z');
    expect(formatTime(0n)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(formatTime(1n)).toBe('1970-01-01T00:00:00.000000001Z');
    expect(formatTime(1_136_214_245_999_999_999n)).toBe('2006-01-02T15:04:05.999999999Z');
    expect(formatTime(NOW)).toBe('2023-11-14T22:13:20.123456789Z');
    expect(formatTime(NOW)).toHaveLength(TIMESTAMP_PREFIX_LENGTH - 1);
  });

  it('writes times before 1970', () => {
    expect(formatTime(-1n)).toBe('1969-12-31T23:59:59.999999999Z');
    expect(formatTime(-S)).toBe('1969-12-31T23:59:59.000000000Z');
    expect(formatTime(-S - 1n)).toBe('1969-12-31T23:59:58.999999999Z');
    expect(formatTime(-S / 2n)).toBe('1969-12-31T23:59:59.500000000Z');
    expect(formatTime(utc(1900, 1, 1) + 123n)).toBe('1900-01-01T00:00:00.000000123Z');
    expect(formatTime(-(2n ** 63n))).toBe('1677-09-21T00:12:43.145224192Z');
    expect(formatTime(2n ** 63n - 1n)).toBe('2262-04-11T23:47:16.854775807Z');
  });

  it('gives one formatter the same answers as fresh ones, in any order (property)', () => {
    // TimestampFormatter reuses the date and time of day within a second.
    const start = fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n });
    const steps = fc.array(
      fc.oneof(fc.bigInt({ min: -2n * S, max: 2n * S }), fc.constantFrom(0n, 1n, -1n, S, -S)),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(start, steps, fc.boolean(), (t0, deltas, nearZero) => {
        const fmt = new TimestampFormatter();
        const out = new Uint8Array(TIMESTAMP_PREFIX_LENGTH + 3);
        let t = nearZero ? t0 % (3n * S) : t0;
        for (const d of [0n, ...deltas]) {
          t += d;
          expect(fmt.write(out, 3, t)).toBe(3 + TIMESTAMP_PREFIX_LENGTH);
          expect(Buffer.from(out.subarray(3)).toString('latin1')).toBe(`${formatTime(t)} `);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with Date to the millisecond (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (ns) => {
        let ms = ns / MS;
        if (ms * MS > ns) ms -= 1n;
        const iso = new Date(Number(ms)).toISOString(); // 2006-01-02T15:04:05.000Z
        const s = formatTime(ns);
        expect(s.slice(0, 23)).toBe(iso.slice(0, 23));
        expect(s).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      }),
      { numRuns: 500 },
    );
  });
});
