import { describe, expect, it } from 'vitest';
import { containerEvents, goDuration } from './container-events.js';

describe('container events', () => {
  it("print durations as Go's time.Duration does", () => {
    expect(goDuration(1234.5)).toBe('1.2345s');
    expect(goDuration(250)).toBe('250ms');
    expect(goDuration(0.5)).toBe('500µs');
    expect(goDuration(61_500)).toBe('1m1.5s');
    expect(goDuration(3_725_000)).toBe('1h2m5s');
  });

  it('word the Pulled and BackOff Events as the kubelet does', () => {
    expect(containerEvents.pulled('c', 'busybox:1', 1200, 1500, 4096).message).toBe(
      'Successfully pulled image "busybox:1" in 1.2s (1.5s including waiting). Image size: 4096 bytes.',
    );
    const pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1' } };
    expect(containerEvents.backOff(pod, 'c')).toEqual({
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container c in pod p_ns(u1)',
      container: 'c',
    });
  });
});
