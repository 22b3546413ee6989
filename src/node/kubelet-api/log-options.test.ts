import { describe, expect, it } from 'vitest';
import { parseLogQuery } from './log-options.js';

const parse = (q: string) => parseLogQuery(new URLSearchParams(q), 1_700_000_000_000);

describe('parseLogQuery (PodLogOptions validation)', () => {
  it('maps the kubelet query onto provider options', () => {
    expect(parse('tailLines=3&timestamps=true&follow=true&limitBytes=10')).toMatchObject({
      tail: 3,
      timestamps: true,
      follow: true,
      limitBytes: 10,
      previous: false,
    });
    expect(parse('sinceSeconds=60').since).toBe(BigInt(1_700_000_000_000 - 60_000) * 1_000_000n);
    expect(parse('sinceTime=2024-05-01T10:00:00Z').since).toBe(1_714_557_600_000_000_000n);
    expect(parse('stream=Stderr').stream).toBe('stderr');
  });

  it.each([
    [
      'sinceSeconds=1&sinceTime=2024-05-01T10:00:00Z',
      'at most one of sinceTime or sinceSeconds may be specified',
    ],
    ['tailLines=-1', 'tailLines: must be greater than or equal to 0'],
    ['limitBytes=0', 'limitBytes: must be greater than 0'],
    ['sinceSeconds=0', 'sinceSeconds: must be greater than 0'],
    ['tailLines=ten', 'tailLines: "ten" is not an integer'],
    ['sinceTime=yesterday', 'sinceTime: "yesterday" is not an RFC 3339 time'],
    ['follow=maybe', 'follow: "maybe" is not a boolean'],
    ['stream=Both', 'stream: "Both" is not Stdout, Stderr or All'],
    ['stream=Stdout&tailLines=1', 'tailLines: may not be set when stream is not All'],
  ])('%s → InvalidInput', (q, message) => {
    expect(() => parse(q)).toThrow(expect.objectContaining({ kind: 'InvalidInput', message }));
  });
});
