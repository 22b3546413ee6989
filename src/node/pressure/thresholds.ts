// The kubelet's hard eviction thresholds (--eviction-hard): "memory.available<100Mi,
// nodefs.available<10%,imagefs.available<15%" by default; each signal against a quantity or a
// percentage of its capacity. A threshold met puts the node under pressure (MemoryPressure,
// DiskPressure, PIDPressure) and starts evictions.

export type Signal =
  'memory.available' | 'nodefs.available' | 'imagefs.available' | 'pid.available';

export interface Threshold {
  signal: Signal;
  /** Absolute (in the signal's unit) or a fraction of its capacity. */
  value: { quantity: number } | { fraction: number };
}

/** What the node measures now: each signal's available amount and its capacity. */
export type Observations = Partial<Record<Signal, { available: number; capacity: number }>>;

export const DEFAULT_EVICTION_HARD =
  'memory.available<100Mi,nodefs.available<10%,imagefs.available<15%';

const SIGNALS: Signal[] = [
  'memory.available',
  'nodefs.available',
  'imagefs.available',
  'pid.available',
];

/** The node condition each signal puts the node under, and the resource it is low on. */
export const PRESSURE: Record<Signal, { condition: string; resource: string }> = {
  'memory.available': { condition: 'MemoryPressure', resource: 'memory' },
  'nodefs.available': { condition: 'DiskPressure', resource: 'ephemeral-storage' },
  'imagefs.available': { condition: 'DiskPressure', resource: 'ephemeral-storage' },
  'pid.available': { condition: 'PIDPressure', resource: 'pids' },
};

/** Parses --eviction-hard; throws an Error naming what is wrong. An empty list: no thresholds. */
export function parseThresholds(text: string): Threshold[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part) => {
    const m = /^\s*([A-Za-z.]+)<(.+?)\s*$/.exec(part);
    if (!m) throw new Error(`${JSON.stringify(part)}: want SIGNAL<QUANTITY or SIGNAL<PERCENT%`);
    const signal = m[1] as Signal;
    if (!SIGNALS.includes(signal))
      throw new Error(
        `${JSON.stringify(m[1])}: not a signal this node measures (${SIGNALS.join(', ')})`,
      );
    const v = m[2]!;
    if (v.endsWith('%')) {
      const pct = Number(v.slice(0, -1));
      if (!(pct >= 0 && pct <= 100)) throw new Error(`${signal}: ${v} is not a percentage`);
      return { signal, value: { fraction: pct / 100 } };
    }
    return { signal, value: { quantity: parseQuantity(signal, v) } };
  });
}

/** The thresholds met by what the node observes now. */
export function thresholdsMet(thresholds: Threshold[], seen: Observations): Threshold[] {
  return thresholds.filter((t) => {
    const o = seen[t.signal];
    if (!o) return false;
    const limit = 'quantity' in t.value ? t.value.quantity : t.value.fraction * o.capacity;
    return o.available < limit;
  });
}

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A Kubernetes quantity of bytes or a count (100Mi, 1G, 500). */
function parseQuantity(signal: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(v);
  if (!m) throw new Error(`${signal}: ${JSON.stringify(v)} is not a quantity (100Mi, 1Gi, 500)`);
  return Number(m[1]) * UNITS[m[2] ?? '']!;
}
