// What the kubelet's webhook authenticator and authorizer cache: each TokenReview and
// SubjectAccessReview answer for a while (tokens 2 min; access 2 min when allowed, 30 s when
// denied), so a client in a loop — or `Bearer junk` a thousand times — costs the apiserver one
// review, not one per request. Concurrent asks for the same key share one review. Bounded: the
// oldest entries go first, so random keys cannot grow memory. Errors are never cached.

export interface ReviewCacheOptions<V> {
  /** How long an answer is kept (ms). */
  ttlMs: (value: V) => number;
  /** Most entries kept. */
  maxEntries?: number;
  now?: () => number;
}

export class ReviewCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private readonly inflight = new Map<string, Promise<V>>();
  private readonly max: number;
  private readonly now: () => number;

  constructor(private readonly o: ReviewCacheOptions<V>) {
    this.max = o.maxEntries ?? 4096;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached answer for `key`, or the one `review` gives (shared with concurrent asks). */
  async get(key: string, review: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit) {
      if (hit.expires > this.now()) return hit.value;
      this.entries.delete(key);
    }
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = review().then(
      (value) => {
        this.inflight.delete(key);
        const ttl = this.o.ttlMs(value);
        if (ttl > 0) {
          if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
          this.entries.set(key, { value, expires: this.now() + ttl });
        }
        return value;
      },
      (err: unknown) => {
        this.inflight.delete(key);
        throw err;
      },
    );
    this.inflight.set(key, p);
    return p;
  }
}
