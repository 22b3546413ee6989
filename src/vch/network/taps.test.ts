import { describe, expect, it } from 'vitest';
import { macOf, tapName } from './taps.js';

describe('pod VM taps', () => {
  it('names a tap within IFNAMSIZ, after its sandbox', () => {
    const name = tapName('0123456789abcdef'.repeat(4));
    expect(name).toBe('vt0123456789ab');
    expect(name.length).toBeLessThanOrEqual(15);
  });

  it("derives a locally administered MAC from the address, as Docker does a container's", () => {
    expect(macOf('10.88.0.5/16')).toBe('02:42:0a:58:00:05');
    expect(macOf('172.17.255.254')).toBe('02:42:ac:11:ff:fe');
  });
});
