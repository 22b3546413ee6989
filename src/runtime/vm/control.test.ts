import { describe, expect, it } from 'vitest';
import { decodeToken, encodeLine, encodeToken, parseAgentLine } from './control.js';

describe('control protocol tokens', () => {
  it('percent-encodes what would break a line or a token, and round-trips', () => {
    for (const s of ['', '-', 'plain', 'a b', 'x%y', 'tab\there', 'line\nnext', 'ünï', '--', '%2D'])
      expect(decodeToken(encodeToken(s))).toBe(s);
    expect(encodeToken('')).toBe('-');
    expect(encodeToken('-')).toBe('%2D');
    expect(encodeToken('a b%')).toBe('a%20b%25');
    expect(encodeToken('PATH=/bin')).toBe('PATH=/bin');
    expect(encodeLine(['start', 'x', 2, 'sh -c'])).toBe('start x 2 sh%20-c\n');
  });

  it('rejects malformed escapes', () => {
    expect(() => decodeToken('%zz')).toThrow(/malformed/);
    expect(() => decodeToken('%4')).toThrow(/malformed/);
  });

  it('parses the agent’s messages and ignores anything else', () => {
    expect(parseAgentLine('hello 6.1.0-56-amd64')).toEqual({
      type: 'hello',
      release: '6.1.0-56-amd64',
    });
    expect(parseAgentLine('started abc')).toEqual({ type: 'started', id: 'abc' });
    expect(parseAgentLine('exited abc 137')).toEqual({ type: 'exited', id: 'abc', code: 137 });
    expect(parseAgentLine('error - no%20such%20thing')).toEqual({
      type: 'error',
      id: '',
      message: 'no such thing',
    });
    expect(parseAgentLine('exited abc x')).toBeUndefined();
    expect(parseAgentLine('garbage from a serial line')).toBeUndefined();
    expect(parseAgentLine('hello %zz')).toBeUndefined();
  });
});
