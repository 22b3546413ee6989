import { describe, expect, it } from 'vitest';
import { parseSignal } from './signals.js';

describe('parseSignal', () => {
  it('takes names with and without SIG, any case, and numbers', () => {
    expect(parseSignal('SIGTERM')).toBe(15);
    expect(parseSignal('TERM')).toBe(15);
    expect(parseSignal('kill')).toBe(9);
    expect(parseSignal('15')).toBe(15);
    expect(parseSignal(' SIGUSR1 ')).toBe(10);
    expect(parseSignal('SIGRTMIN+2')).toBe(36);
    expect(parseSignal('RTMAX')).toBe(64);
  });

  it('refuses anything else with InvalidInput', () => {
    for (const bad of ['', 'SIGNOPE', '0', '65', '-1', '1.5', 'SIGRTMAX+1', 'TERM;rm']) {
      expect(() => parseSignal(bad), bad).toThrow(
        expect.objectContaining({ kind: 'InvalidInput' }),
      );
    }
  });
});
