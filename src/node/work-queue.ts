// A keyed work queue in the manner of client-go's: a key waits at most once; a key being
// worked on is never handed to a second worker — if it is added meanwhile, it runs again after
// the first run ends; failed keys come back after a per-key exponential backoff.

export interface WorkQueueOptions {
  /** Concurrent workers. */
  workers: number;
  /** First retry delay; doubles per failure of the same key. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** After this many failures in a row the key is dropped (until it is added again). */
  maxRetries?: number;
  onDrop?(key: string, err: unknown): void;
}

/** What a handler returns: nothing (done), or a delay after which to look at the key again. */
export type HandlerResult = void | { requeueAfterMs: number };

export class WorkQueue {
  private readonly waiting = new Set<string>();
  private readonly order: string[] = [];
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: (key: string) => Promise<HandlerResult>,
    private readonly o: WorkQueueOptions,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waiting.has(key)) return;
    this.waiting.add(key);
    this.order.push(key);
    this.pump();
  }

  /** Adds the key after `ms`, unless it is added sooner. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.add(key);
      }, ms),
    );
  }

  /** Forgets a key's failures (it succeeded, or the object is gone). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  get length(): number {
    return this.waiting.size;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.waiting.clear();
    this.order.length = 0;
  }

  /** Resolves when no key is waiting or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.active === 0 && this.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.active < this.o.workers && this.order.length > 0) {
      const key = this.order.shift()!;
      this.waiting.delete(key);
      this.running.add(key);
      this.active++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result && !this.dirty.has(key)) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      if (n > (this.o.maxRetries ?? 20)) {
        this.failures.delete(key);
        this.o.onDrop?.(key, err);
      } else {
        this.failures.set(key, n);
        const base = this.o.baseDelayMs ?? 100;
        this.addAfter(key, Math.min(this.o.maxDelayMs ?? 30_000, base * 2 ** (n - 1)));
      }
    } finally {
      this.running.delete(key);
      this.active--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
      if (this.active === 0 && this.waiting.size === 0) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }
}
