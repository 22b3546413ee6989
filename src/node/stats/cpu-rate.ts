// usageNanoCores from cumulative CPU time: the rate between this sample and the one before of
// the same series (a container's instance: pod uid, name and start time), as the kubelet keeps
// cadvisor's previous sample. Without an earlier sample (first scrape, new instance) the rate is
// the average since the instance started, so a busy container never reads as idle.
import type { CpuSample } from './usage.js';

interface Seen {
  ns: number;
  at: number;
}

/** Samples closer than this are too near for a rate: the earlier one keeps serving. */
const MIN_INTERVAL_MS = 1000;

export class CpuRates {
  readonly #seen = new Map<string, Seen>();

  /**
   * The rate for `key` now, in nanocores. `at` is when `cpu` was read and `since` when its
   * series began (both Unix ms). Keys not seen in `keep` are forgotten at the next `prune`.
   */
  rate(key: string, cpu: CpuSample, at: number, since: number): number {
    const prev = this.#seen.get(key);
    const ns = cpu.usageCoreNanoSeconds;
    let rate: number;
    if (prev && prev.ns <= ns && at - prev.at >= MIN_INTERVAL_MS) {
      rate = ((ns - prev.ns) / (at - prev.at)) * 1e3;
      this.#seen.set(key, { ns, at });
    } else if (prev && prev.ns <= ns && at > prev.at) {
      rate = ((ns - prev.ns) / (at - prev.at)) * 1e3;
    } else {
      rate = at > since ? (ns / (at - since)) * 1e3 : 0;
      this.#seen.set(key, { ns, at });
    }
    return Math.max(0, Math.round(rate));
  }

  /** Forgets every series not in `live` (containers that are gone). */
  prune(live: Set<string>): void {
    for (const k of this.#seen.keys()) if (!live.has(k)) this.#seen.delete(k);
  }
}
