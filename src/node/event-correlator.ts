// What client-go's event correlator decides for each Event a kubelet records, so a crash loop
// does not flood the apiserver: a repeat of the same Event (same object, container, type,
// reason and message) counts up the one already written instead of adding another; more than
// 10 different messages of one reason on one object within 10 minutes are combined into one
// Event ("(combined from similar events): …"); and every write (new or counted) takes a token
// from a bucket per object (burst 25, then one every 5 minutes), beyond which it is dropped.
import { TokenBucket } from './token-bucket.js';

/** The part of an Event the correlator keys on. */
export interface EventFacts {
  /** kind/namespace/name/uid of the object, as one string. */
  object: string;
  /** involvedObject.fieldPath ('' for the object itself). */
  fieldPath: string;
  type: string;
  reason: string;
  message: string;
}

export interface CorrelatorOptions {
  /** Writes allowed at once per object (client-go: 25). */
  burst?: number;
  /** Writes per second per object once the burst is spent (client-go: 1/300). */
  qps?: number;
  /** Different messages of one reason on one object before they are combined (client-go: 10). */
  maxSimilar?: number;
  /** How long similar messages are counted together (ms; client-go: 10 min). */
  similarWindowMs?: number;
  /** Objects and keys remembered (client-go: 4096 each). */
  cacheSize?: number;
  now?: () => number;
}

/** Write a new Event, count up one written before (by its key), or drop it. */
export type Decision =
  | { action: 'create'; key: string; message: string }
  | { action: 'count'; key: string; message: string }
  | { action: 'drop' };

export const COMBINED_PREFIX = '(combined from similar events): ';

/** A Map that forgets its least recently used entry beyond `size`. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    if (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

export class EventCorrelator {
  private readonly buckets: Lru<TokenBucket>;
  private readonly similar: Lru<{ messages: Set<string>; since: number }>;
  /** Keys of Events written, so a repeat counts up rather than adding one. */
  private readonly seen: Lru<true>;
  private readonly o: Required<CorrelatorOptions>;

  constructor(options: CorrelatorOptions = {}) {
    this.o = {
      burst: 25,
      qps: 1 / 300,
      maxSimilar: 10,
      similarWindowMs: 600_000,
      cacheSize: 4096,
      now: Date.now,
      ...options,
    };
    this.buckets = new Lru(this.o.cacheSize);
    this.similar = new Lru(this.o.cacheSize);
    this.seen = new Lru(this.o.cacheSize);
  }

  decide(e: EventFacts): Decision {
    const now = this.o.now();
    let message = e.message;
    let key = [e.object, e.fieldPath, e.type, e.reason, e.message].join('\0');
    // Aggregation: by object and reason, whatever the message.
    const groupKey = [e.object, e.fieldPath, e.type, e.reason].join('\0');
    let group = this.similar.get(groupKey);
    if (!group || now - group.since > this.o.similarWindowMs)
      group = { messages: new Set(), since: now };
    group.messages.add(e.message);
    this.similar.set(groupKey, group);
    if (group.messages.size >= this.o.maxSimilar) {
      key = `${groupKey}\0combined`;
      message = COMBINED_PREFIX + e.message;
    }
    // The spam filter: per object, whatever its container or reason.
    let bucket = this.buckets.get(e.object);
    if (!bucket) this.buckets.set(e.object, (bucket = new TokenBucket(this.o.qps, this.o.burst)));
    if (!bucket.tryTake()) return { action: 'drop' };
    if (this.seen.get(key)) return { action: 'count', key, message };
    this.seen.set(key, true);
    return { action: 'create', key, message };
  }

  /** The Event written under `key` is gone (expired, deleted): the next one is new. */
  forget(key: string): void {
    this.seen.delete(key);
  }
}
