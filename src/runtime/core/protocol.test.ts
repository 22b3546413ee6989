import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  decodeToken,
  encodeLine,
  encodeToken,
  EXEC_CHUNK,
  lastRecords,
  MAX_LINE,
  parseStatusTokens,
  TO_GUEST,
  TO_HOST,
} from './protocol.js';
import { DATA_WINDOW, FRAME, FRAME_HEADER, FRAME_MAX } from '../vm/data-frames.js';

const header = readFileSync(
  fileURLToPath(new URL('../../../tether/protocol.h', import.meta.url)),
  'utf8',
);

/** The messages protocol.h defines with a prefix: name → number of fixed fields. */
function defined(prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`#define ${prefix}_([A-Z]+) "([a-z]+)"`, 'g');
  for (const m of header.matchAll(re)) {
    const n = new RegExp(`#define ${prefix}_${m[1]}_NFIELDS (\\d+)`).exec(header);
    out[m[2]] = Number(n?.[1]);
  }
  return out;
}

describe('the protocol as tether/protocol.h defines it', () => {
  it('has the same messages and field counts in both directions', () => {
    expect(TO_GUEST).toEqual(defined('VIC_TO_GUEST'));
    expect(TO_HOST).toEqual(defined('VIC_TO_HOST'));
  });

  it('has the same limits', () => {
    expect(header).toContain(`#define VIC_MAX_LINE ${MAX_LINE}\n`);
    expect(header).toContain(`#define VIC_FRAME_HEADER ${FRAME_HEADER}\n`);
    expect(header).toContain(`#define VIC_FRAME_MAX ${FRAME_MAX}\n`);
    expect(header).toContain(`#define VIC_DATA_WINDOW ${DATA_WINDOW}\n`);
    for (const [name, type] of Object.entries(FRAME))
      expect(header).toContain(`#define VIC_FRAME_${name.toUpperCase()} ${type}\n`);
    expect(header).toContain(`#define VIC_EXEC_CHUNK ${EXEC_CHUNK}\n`);
  });

  it('encodes tokens as the header says', () => {
    for (const s of ['', '-', 'a b', '%', 'é', 'PATH=/bin', '\n'])
      expect(decodeToken(encodeToken(s))).toBe(s);
    expect(encodeToken('')).toBe('-');
    expect(encodeToken('-')).toBe('%2D');
    expect(encodeToken('a b%')).toBe('a%20b%25');
    expect(encodeLine(['start', 'x', 2, 'sh -c'])).toBe('start x 2 sh%20-c\n');
    expect(() => decodeToken('%zz')).toThrow(/malformed/);
    expect(() => decodeToken('%4')).toThrow(/malformed/);
  });
});

describe('status records', () => {
  it('parses started and exited with their numbers', () => {
    expect(parseStatusTokens(['started', '', '42', '1700000000000000000'])).toEqual({
      type: 'started',
      id: '',
      pid: 42,
      startedNs: 1700000000000000000n,
    });
    expect(parseStatusTokens(['exited', 'abc', '137', '9', '1', '2', '1', 'no such file'])).toEqual(
      {
        type: 'exited',
        id: 'abc',
        exitCode: 137,
        signal: 9,
        startedNs: 1n,
        finishedNs: 2n,
        oom: true,
        error: 'no such file',
      },
    );
  });

  it('refuses numbers out of range and wrong field counts (the sender may be hostile)', () => {
    for (const t of [
      ['started', '', '-1', '1'],
      ['started', '', '1', '99999999999999999999'],
      ['started', '', '1'],
      ['exited', '', '256', '0', '1', '2', '0', ''],
      ['exited', '', '0', '65', '1', '2', '0', ''],
      ['exited', '', '0', '0', '1', '2', '2', ''],
      ['exited', '', '0', '0', '1x', '2', '0', ''],
      ['hello', 'x'],
    ])
      expect(parseStatusTokens(t)).toBeUndefined();
  });

  it('takes the last whole started and exited line of a status file', () => {
    const text =
      'started - 5 10\nexited - 1 0 10 20 0 -\ngarbage\nstarted - 6 30\nexited - 42 0 30 40 0 -\nexited - 7';
    const r = lastRecords(text);
    expect(r.started?.pid).toBe(6);
    expect(r.exited?.exitCode).toBe(42);
    expect(lastRecords('started - 5 10')).toEqual({});
  });
});
