import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readTapUsage } from './tap-dev.js';

describe('readTapUsage', () => {
  it("reads a device's counters turned round: what the host's side sends, the guest receives", async () => {
    const stat = (n: string) => Number(readFileSync(`/sys/class/net/lo/statistics/${n}`, 'utf8'));
    const before = { rx: stat('rx_bytes'), tx: stat('tx_bytes') };
    const u = await readTapUsage('lo');
    expect(u?.name).toBe('eth0');
    // lo's counters only grow: between two reads, at least what the first read saw.
    expect(u!.rxBytes).toBeGreaterThanOrEqual(before.tx);
    expect(u!.txBytes).toBeGreaterThanOrEqual(before.rx);
    expect(u!.rxBytes).toBeLessThanOrEqual(stat('tx_bytes'));
    expect(Number.isInteger(u!.rxErrors) && Number.isInteger(u!.txErrors)).toBe(true);
  });

  it('answers undefined for a device that is not there, or a name that is no device name', async () => {
    expect(await readTapUsage('vtnosuchtap0')).toBeUndefined();
    for (const bad of ['', '..', '../lo', 'a/b', 'x'.repeat(16), 'lo\n'])
      expect(await readTapUsage(bad), JSON.stringify(bad)).toBeUndefined();
  });
});
