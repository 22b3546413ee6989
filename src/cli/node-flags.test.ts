import { describe, expect, it } from 'vitest';
import { parseDuration } from './node-run.js';

describe('node duration flags', () => {
  it('reads Go-style whole durations', () => {
    expect(parseDuration('--f', '500ms')).toBe(500);
    expect(parseDuration('--f', '10s')).toBe(10_000);
    expect(parseDuration('--f', '1m')).toBe(60_000);
    expect(parseDuration('--f', '2h')).toBe(7_200_000);
  });

  it('refuses anything else with one line naming the flag', () => {
    for (const bad of ['10', '0s', '-1s', '1.5s', 'soon', ''])
      expect(() => parseDuration('--node-status-update-frequency', bad)).toThrow(
        /^--node-status-update-frequency ".*": want a duration such as 10s or 1m$/,
      );
  });
});
