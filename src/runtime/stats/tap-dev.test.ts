import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseNetDev } from './net-dev.js';
import { readTapUsage } from './tap-dev.js';

describe('readTapUsage', () => {
  it("reads a device's counters turned round: what the host's side sends, the guest receives", async () => {
    // Any interface of this namespace but lo (parseNetDev leaves lo out) stands in for a tap.
    const dev = parseNetDev(readFileSync('/proc/self/net/dev', 'utf8'))[0];
    expect(dev, 'an interface besides lo in this namespace').toBeDefined();
    const u = await readTapUsage(dev!.name);
    expect(u?.name).toBe('eth0');
    // Counters only grow: at least what the first read saw, on the other side.
    expect(u!.rxBytes).toBeGreaterThanOrEqual(dev!.txBytes);
    expect(u!.txBytes).toBeGreaterThanOrEqual(dev!.rxBytes);
  });

  it('answers undefined for a device that is not there', async () => {
    expect(await readTapUsage('vtnosuchtap0')).toBeUndefined();
    expect(await readTapUsage('lo')).toBeUndefined();
  });
});
