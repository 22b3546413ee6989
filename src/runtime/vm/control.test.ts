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

  it("parses an exec's output chunks and its exit", () => {
    const data = Buffer.from([0, 1, 0xff, 0x0a, 0x41]);
    expect(parseAgentLine(`execout abc e1 2 ${data.toString('base64')}`)).toEqual({
      type: 'execout',
      id: 'abc',
      execId: 'e1',
      stream: 'stderr',
      data,
    });
    expect(parseAgentLine('execout abc e1 1 -')).toMatchObject({
      stream: 'stdout',
      data: Buffer.alloc(0),
    });
    expect(parseAgentLine('execexit abc e1 3 -')).toEqual({
      type: 'execexit',
      id: 'abc',
      execId: 'e1',
      exitCode: 3,
      error: '',
    });
    expect(parseAgentLine('execexit abc e1 127 exec%20nope')).toMatchObject({
      exitCode: 127,
      error: 'exec nope',
    });
  });

  it('refuses exec lines a hostile guest could bend: bad streams, base64, codes, sizes', () => {
    for (const line of [
      'execout abc e1 3 QUFB',
      'execout abc e1 1 QUF',
      'execout abc e1 1 QU%3DB',
      `execout abc e1 1 ${Buffer.alloc(2049).toString('base64')}`,
      'execout abc e1 1',
      'execexit abc e1 256 -',
      'execexit abc e1 -1 -',
      'execexit abc e1 3',
    ])
      expect(parseAgentLine(line)).toBeUndefined();
    expect(parseAgentLine(`execout a b 1 ${Buffer.alloc(2048).toString('base64')}`)).toBeDefined();
  });

  it('ignores what it does not know', () => {
    expect(parseAgentLine('exited abc x')).toBeUndefined();
    expect(parseAgentLine('started abc')).toBeUndefined();
    expect(parseAgentLine('garbage from a serial line')).toBeUndefined();
    expect(parseAgentLine('hello %zz')).toBeUndefined();
  });
});
