// The archive endpoints' own logic: the stat header as the docker CLI decodes it (Go's FileMode
// bits, RFC 3339 nanoseconds), and the query read strictly (one clear 400 per bad value).
import { describe, expect, it } from 'vitest';
import { archivePath, goFileMode, pathStatHeader, strictBool } from './archive.js';

const decode = (h: string) =>
  JSON.parse(Buffer.from(h, 'base64').toString()) as Record<string, unknown>;

describe('the archive endpoints', () => {
  it('makes Go FileMode bits of st_mode', () => {
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goFileMode(0o040755)).toBe(2 ** 31 + 0o755);
    expect(goFileMode(0o120777)).toBe(2 ** 27 + 0o777);
    expect(goFileMode(0o020620)).toBe(2 ** 26 + 2 ** 21 + 0o620);
    expect(goFileMode(0o010600)).toBe(2 ** 25 + 0o600);
    expect(goFileMode(0o104755)).toBe(2 ** 23 + 0o755);
    expect(goFileMode(0o041777)).toBe(2 ** 31 + 2 ** 20 + 0o777);
  });

  it('encodes the stat header as docker’s PathStat', () => {
    const h = pathStatHeader('/etc/', {
      mode: 0o040755,
      size: 4096,
      mtimeNs: 1_700_000_000_123_456_789n,
    });
    expect(decode(h)).toEqual({
      name: 'etc',
      size: 4096,
      mode: 2 ** 31 + 0o755,
      mtime: '2023-11-14T22:13:20.123456789Z',
      linkTarget: '',
    });
    const link = decode(
      pathStatHeader('/hostetc', { mode: 0o120777, size: 4, mtimeNs: 0n, linkTarget: '/etc' }),
    );
    expect(link).toMatchObject({
      name: 'hostetc',
      linkTarget: '/etc',
      mtime: '1970-01-01T00:00:00Z',
    });
    expect(decode(pathStatHeader('/', { mode: 0o040755, size: 0, mtimeNs: 0n })).name).toBe('/');
  });

  it('takes one non-empty path, relative ones from the root; refuses the rest with 400', () => {
    expect(archivePath(new URLSearchParams('path=/a/b'))).toBe('/a/b');
    expect(archivePath(new URLSearchParams('path=a/b/.'))).toBe('/a/b/.');
    for (const q of ['', 'path=', 'path=/a&path=/b', 'path=/a%00b', `path=/${'x'.repeat(5000)}`])
      expect(() => archivePath(new URLSearchParams(q)), q).toThrow(
        expect.objectContaining({
          kind: 'InvalidInput',
          message: expect.stringMatching(/^bad parameter/),
        }),
      );
  });

  it('reads booleans strictly', () => {
    const q = (s: string) => new URLSearchParams(s);
    expect(strictBool(q(''), 'copyUIDGID')).toBe(false);
    expect(strictBool(q('copyUIDGID='), 'copyUIDGID')).toBe(false);
    expect(strictBool(q('copyUIDGID=1'), 'copyUIDGID')).toBe(true);
    expect(strictBool(q('copyUIDGID=True'), 'copyUIDGID')).toBe(true);
    expect(strictBool(q('copyUIDGID=false'), 'copyUIDGID')).toBe(false);
    expect(() => strictBool(q('copyUIDGID=maybe'), 'copyUIDGID')).toThrow(/not a boolean/);
  });
});
