import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hostDevices, splitDev } from './host-devices.js';

describe("the host's devices", () => {
  it('splits a dev_t as glibc does', () => {
    expect(splitDev(0x0103)).toEqual({ major: 1, minor: 3 }); // /dev/null
    expect(splitDev(0x880)).toEqual({ major: 8, minor: 128 });
    // A minor past 255 keeps its high bits above the major's: minor 261 of major 8.
    expect(splitDev(0x100805)).toEqual({ major: 8, minor: 261 });
  });

  it('lists /dev/null as a character device 1:3, and nothing under /dev/pts', async () => {
    const devs = await hostDevices();
    const nul = devs.find((d) => d.path === '/dev/null');
    expect(nul).toMatchObject({ type: 'c', major: 1, minor: 3, fileMode: 0o666 });
    expect(devs.some((d) => d.path.startsWith('/dev/pts/'))).toBe(false);
    expect(devs.some((d) => d.path === '/dev/console')).toBe(false);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});
