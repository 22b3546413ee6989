import { describe, expect, it } from 'vitest';
import { parseAgentLine } from './control.js';

describe('agent lines', () => {
  it('parses the news the agent sends', () => {
    expect(parseAgentLine('hello 6.1.0-56-amd64')).toEqual({
      type: 'hello',
      release: '6.1.0-56-amd64',
    });
    expect(parseAgentLine('started abc 12 1000')).toEqual({
      type: 'started',
      id: 'abc',
      pid: 12,
      startedNs: 1000n,
    });
    expect(parseAgentLine('exited abc 137 9 1000 2000 1 -')).toMatchObject({
      type: 'exited',
      id: 'abc',
      exitCode: 137,
      signal: 9,
      oom: true,
      error: '',
    });
    expect(parseAgentLine('error - no%20such%20thing')).toEqual({
      type: 'error',
      id: '',
      message: 'no such thing',
    });
  });

  it('ignores what it does not know', () => {
    expect(parseAgentLine('exited abc x')).toBeUndefined();
    expect(parseAgentLine('started abc')).toBeUndefined();
    expect(parseAgentLine('garbage from a serial line')).toBeUndefined();
    expect(parseAgentLine('hello %zz')).toBeUndefined();
  });
});
