import { describe, expect, it } from 'vitest';
import { DEFAULT_LOG_ROTATION, parseLogRotation } from './log-rotation.js';

describe('parseLogRotation', () => {
  it("takes the kubelet's defaults and its quantities", () => {
    expect(parseLogRotation({})).toEqual(DEFAULT_LOG_ROTATION);
    expect(DEFAULT_LOG_ROTATION).toEqual({ maxSize: 10 * 1024 * 1024, maxFiles: 5 });
    expect(parseLogRotation({ maxSize: '512Ki', maxFiles: '25' })).toEqual({
      maxSize: 512 * 1024,
      maxFiles: 25,
    });
    expect(parseLogRotation({ maxSize: '1G' }).maxSize).toBe(1e9);
    expect(parseLogRotation({ maxSize: '5000' }).maxSize).toBe(5000);
  });

  it('refuses what the tether cannot honour, naming the flag', () => {
    for (const maxSize of ['10MB', '-1', '1.5Mi', '100', ''])
      expect(() => parseLogRotation({ maxSize })).toThrow(/^--container-log-max-size "/);
    for (const maxFiles of ['1', '0', 'five', '1001'])
      expect(() => parseLogRotation({ maxFiles })).toThrow(/^--container-log-max-files "/);
  });
});
