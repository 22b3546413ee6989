// A pod VM's network counters, from the host's side of its tap (/sys/class/net/<tap>/statistics):
// what the host's tap receives the guest sent, and the other way round, so the figures are
// turned round to read as the guest's eth0 (the one interface a pod VM has).
import { readFile } from 'node:fs/promises';
import type { InterfaceUsage } from './types.js';

/** Interface names the kernel accepts, and nothing that could leave /sys/class/net. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** The guest's eth0 as its tap counts it; undefined when the tap is gone (or the name is bad). */
export async function readTapUsage(tap: string): Promise<InterfaceUsage | undefined> {
  if (!IFNAME.test(tap) || tap === '.' || tap === '..') return undefined;
  const dir = `/sys/class/net/${tap}/statistics`;
  const read = (name: string) =>
    readFile(`${dir}/${name}`, 'utf8').then((t) => {
      const n = Number(t.trim());
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${dir}/${name}: ${t.trim()}`);
      return n;
    });
  try {
    const [rx, rxErr, tx, txErr] = await Promise.all(
      ['rx_bytes', 'rx_errors', 'tx_bytes', 'tx_errors'].map(read),
    );
    return { name: 'eth0', rxBytes: tx, rxErrors: txErr, txBytes: rx, txErrors: rxErr };
  } catch {
    return undefined;
  }
}
