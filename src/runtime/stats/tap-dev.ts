// A pod VM's network counters, from the host's side of its tap: what the host's tap receives the
// guest sent, and the other way round, so the figures are turned round to read as the guest's
// eth0 (the one interface a pod VM has). Read from /proc/self/net/dev, which is the VCH's own
// network namespace (where its bridge and taps are); /sys/class/net would be sysfs's mounter's.
import { readFile } from 'node:fs/promises';
import { parseNetDev } from './net-dev.js';
import type { InterfaceUsage } from './types.js';

/** The guest's eth0 as its tap counts it; undefined when the tap is gone. */
export async function readTapUsage(tap: string): Promise<InterfaceUsage | undefined> {
  const text = await readFile('/proc/self/net/dev', 'utf8').catch(() => '');
  return turnedRound(parseNetDev(text).find((i) => i.name === tap));
}

function turnedRound(i: InterfaceUsage | undefined): InterfaceUsage | undefined {
  if (!i) return undefined;
  return {
    name: 'eth0',
    rxBytes: i.txBytes,
    rxErrors: i.txErrors,
    txBytes: i.rxBytes,
    txErrors: i.rxErrors,
  };
}
