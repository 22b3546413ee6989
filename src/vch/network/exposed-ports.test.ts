import { describe, expect, it } from 'vitest';
import { checkPortKey, mergeExposedPorts, parsePortKey, publishAll } from './exposed-ports.js';

describe('exposed ports', () => {
  it('parses PORT and PORT/PROTO keys', () => {
    expect(parsePortKey('80')).toEqual({ port: 80, protocol: 'tcp' });
    expect(parsePortKey('53/udp')).toEqual({ port: 53, protocol: 'udp' });
    for (const bad of ['0', '65536', '80/icmp', 'x', '80/', '-1'])
      expect(parsePortKey(bad)).toBe(undefined);
    expect(checkPortKey('90')).toBe('90/tcp');
    expect(() => checkPortKey('80/icmp')).toThrow('invalid exposed port "80/icmp"');
  });

  it("merges the image's, the request's and the published ones, sorted, once each", () => {
    const merged = mergeExposedPorts(
      { '8080/tcp': {}, '53/udp': {}, junk: {} },
      ['90', '53/udp'],
      [{ hostPort: 1, containerPort: 80, protocol: 'tcp' }],
    );
    expect(merged).toEqual(['53/udp', '80/tcp', '90/tcp', '8080/tcp']);
    expect(mergeExposedPorts(undefined, undefined, [])).toEqual([]);
    expect(mergeExposedPorts(['80/tcp'], undefined, [])).toEqual([]);
  });

  it('-P publishes each exposed port without a binding on host port 0', () => {
    const bound = { hostPort: 8080, containerPort: 80, protocol: 'tcp' as const };
    expect(publishAll([bound], ['53/udp', '80/tcp', '90/tcp'])).toEqual([
      bound,
      { hostPort: 0, containerPort: 53, protocol: 'udp' },
      { hostPort: 0, containerPort: 90, protocol: 'tcp' },
    ]);
  });
});
