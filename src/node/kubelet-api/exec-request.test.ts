import { describe, expect, it } from 'vitest';
import { parseExecRequest } from './exec-request.js';

const parse = (q: string, path = '/exec/ns/web/app') =>
  parseExecRequest(path.split('/').slice(1), new URLSearchParams(q));

describe('parseExecRequest', () => {
  it('reads what the apiserver sends (input, output, error, tty as "1")', () => {
    expect(parse('command=sh&command=-c&command=echo%20hi&input=1&output=1&error=1')).toEqual({
      namespace: 'ns',
      pod: 'web',
      container: 'app',
      command: ['sh', '-c', 'echo hi'],
      stdin: true,
      stdout: true,
      stderr: true,
      tty: false,
    });
  });

  it('takes the ExecOptions names and "true" from direct clients', () => {
    expect(parse('command=ls&stdin=true&stdout=true')).toMatchObject({
      stdin: true,
      stdout: true,
      stderr: false,
    });
  });

  it('drops stderr with a TTY, as the kubelet does', () => {
    expect(parse('command=sh&output=1&error=1&tty=1')).toMatchObject({ tty: true, stderr: false });
  });

  it.each([
    ['no command', 'output=1', /needs a command/],
    ['no stream', 'command=ls', /at least 1 of stdin, stdout, stderr/],
  ])('refuses %s', (_what, q, message) => {
    expect(() => parse(q)).toThrow(message);
  });

  it('refuses a path without all three names', () => {
    expect(() => parse('command=ls&output=1', '/exec/ns/web')).toThrow(/want \/exec/);
    expect(() => parse('command=ls&output=1', '/exec/ns/%zz/app')).toThrow(/malformed escape/);
  });

  it('reads an attach: no command, the streams asked for; a command or no stream is a 400', () => {
    expect(parse('input=1&output=1&tty=1', '/attach/ns/web/app')).toMatchObject({
      attach: true,
      command: [],
      stdin: true,
      stdout: true,
      tty: true,
    });
    expect(() => parse('command=sh&output=1', '/attach/ns/web/app')).toThrow(
      expect.objectContaining({ status: 400, message: expect.stringMatching(/takes no command/) }),
    );
    expect(() => parse('tty=1', '/attach/ns/web/app')).toThrow(/at least 1 of stdin/);
    expect(() => parse('output=1', '/attach/ns/web')).toThrow(/want \/attach/);
  });
});
