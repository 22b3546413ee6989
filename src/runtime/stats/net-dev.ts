// A network namespace's interface counters from /proc/<pid>/net/dev (the kernel's, per
// namespace: reading it through a process of the namespace needs no setns). Loopback is left
// out, as the kubelet leaves it out of a pod's network stats.
import { readFile } from 'node:fs/promises';
import type { InterfaceUsage } from './types.js';

/**
 * /proc/net/dev: two header lines, then "name: rx_bytes rx_packets rx_errs rx_drop rx_fifo
 * rx_frame rx_compressed rx_multicast tx_bytes tx_packets tx_errs ...".
 */
export function parseNetDev(text: string): InterfaceUsage[] {
  const out: InterfaceUsage[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    if (m[1] === 'lo') continue;
    out.push({ name: m[1], rxBytes: f[0], rxErrors: f[2], txBytes: f[8], txErrors: f[10] });
  }
  return out;
}

/** The interfaces of the namespace `pid` is in; undefined when the process is gone. */
export async function readNetDev(pid: number): Promise<InterfaceUsage[] | undefined> {
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseNetDev(text);
}
