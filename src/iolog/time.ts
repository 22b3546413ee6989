// Time arguments of log queries (`--since`, `--until`) and the timestamp prefix of log lines.

import { InvalidInputError } from './errors.js';

const NS_PER_SECOND = 1_000_000_000n;

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|z|[+-]\d{2}:\d{2})?$/;
const UNIX = /^(-?\d+)(?:\.(\d{1,9}))?$/;
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Parses a point in time, as `docker logs --since` does, into Unix nanoseconds:
 * - RFC 3339 with or without fraction (`2006-01-02T15:04:05.999999999Z`, `…+07:00`); without a
 *   zone, or as a bare date, it is local time, like Docker;
 * - Unix seconds with an optional fraction of up to nine digits (`1136073600.000000001`);
 * - a duration before `now` in Go's syntax (`90s`, `10m`, `1h30m`, `1.5h`, `250ms`).
 * Throws InvalidInputError with a message naming `what` otherwise.
 */
export function parseTime(text: string, now: bigint, what = 'time'): bigint {
  const s = text.trim();
  const bad = (why: string) =>
    new InvalidInputError(
      `invalid ${what} ${JSON.stringify(text)}: ${why} (want RFC 3339 like 2006-01-02T15:04:05Z, Unix seconds like 1136073600.5, or a duration like 10m)`,
    );
  if (s === '') throw bad('empty');
  let m = UNIX.exec(s);
  if (m) {
    const frac = (m[2] ?? '').padEnd(9, '0');
    const sec = BigInt(m[1]);
    return sec * NS_PER_SECOND + (sec < 0n || m[1].startsWith('-') ? -1n : 1n) * BigInt(frac);
  }
  m = RFC3339.exec(s);
  if (m) {
    const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
    const fields = [+y, +mo, +d, +h, +mi, +sec];
    if (fields[1] < 1 || fields[1] > 12) throw bad('month out of range');
    if (fields[2] < 1 || fields[2] > daysIn(fields[0], fields[1])) throw bad('day out of range');
    if (fields[3] > 23 || fields[4] > 59 || fields[5] > 59) throw bad('time of day out of range');
    let ms: number;
    if (zone === undefined) {
      const local = new Date(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]);
      local.setFullYear(fields[0]); // years 0..99 are not 1900..1999
      ms = local.getTime();
    } else {
      ms = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]);
      if (fields[0] < 100) ms = new Date(ms).setUTCFullYear(fields[0]);
      if (zone !== 'Z' && zone !== 'z') {
        const sign = zone[0] === '-' ? -1 : 1;
        const zh = +zone.slice(1, 3);
        const zm = +zone.slice(4, 6);
        if (zh > 23 || zm > 59) throw bad('zone offset out of range');
        ms -= sign * (zh * 60 + zm) * 60_000;
      }
    }
    return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0') || '0');
  }
  return now - parseDuration(s, bad);
}

function parseDuration(s: string, bad: (why: string) => Error): bigint {
  DURATION_PART.lastIndex = 0;
  let total = 0n;
  let parts = 0;
  while (DURATION_PART.lastIndex < s.length) {
    const m = DURATION_PART.exec(s);
    if (!m) throw bad(parts === 0 ? 'not a time or duration' : 'bad duration');
    const [whole, frac = ''] = m[1].split('.');
    const unit = BigInt(UNIT_NS[m[2]]);
    total += BigInt(whole || '0') * unit;
    if (frac !== '') {
      const digits = frac.slice(0, 18);
      total += (BigInt(digits) * unit) / 10n ** BigInt(digits.length);
    }
    parts++;
  }
  return total;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS[month - 1];
}

/** Length of the prefix `2006-01-02T15:04:05.000000000Z ` that `--timestamps` puts on a line. */
export const TIMESTAMP_PREFIX_LENGTH = 31;

/**
 * Writes timestamp prefixes without allocating per line: the date and time of day are
 * formatted once per second and reused; only the nine fraction digits change.
 */
export class TimestampFormatter {
  private second: bigint | undefined;
  private readonly prefix = new Uint8Array(20); // "2006-01-02T15:04:05."

  /** Writes `2006-01-02T15:04:05.000000000Z ` for `ns` at out[off]; returns the new offset. */
  write(out: Uint8Array, off: number, ns: bigint): number {
    let frac: number;
    const second = this.second;
    if (second !== undefined && ns >= second && ns - second < NS_PER_SECOND) {
      frac = Number(ns - second);
    } else {
      let sec = ns / NS_PER_SECOND;
      if (ns < 0n && sec * NS_PER_SECOND !== ns) sec -= 1n; // floor for times before 1970
      this.second = sec * NS_PER_SECOND;
      frac = Number(ns - this.second);
      const iso = new Date(Number(sec) * 1000).toISOString(); // 2006-01-02T15:04:05.000Z
      for (let i = 0; i < 20; i++) this.prefix[i] = iso.charCodeAt(i);
    }
    out.set(this.prefix, off);
    for (let i = off + 28; i >= off + 20; i--) {
      out[i] = 48 + (frac % 10);
      frac = Math.floor(frac / 10);
    }
    out[off + 29] = 0x5a; // Z
    out[off + 30] = 0x20;
    return off + TIMESTAMP_PREFIX_LENGTH;
  }
}

/** `2006-01-02T15:04:05.000000000Z` for Unix nanoseconds. */
export function formatTime(ns: bigint): string {
  const b = new Uint8Array(TIMESTAMP_PREFIX_LENGTH);
  new TimestampFormatter().write(b, 0, ns);
  return Buffer.from(b.subarray(0, 30)).toString('latin1');
}
