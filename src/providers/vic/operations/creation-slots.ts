// At most N pod creations (image check or pull, the VCH's create and commit) under way at once;
// the rest wait their turn in arrival order. createPod hands creation to the background, so a
// burst of pods (a thousand bound to the node within a minute) started every one at once: a
// thousand concurrent requests on the VCH's socket and the apiserver, connections reset and
// timed out, and every pod fell into image-pull back-off. Queued, they go through at the rate
// the VCH can take them. Deletions get slots of their own, likewise.
export class CreationSlots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError('size must be ≥ 1');
  }

  /** Runs `fn` once a slot is free; an aborted `signal` gives up the wait (rejects). */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (this.active < this.size) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', cancel);
        this.active++;
        resolve();
      };
      const cancel = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      if (signal?.aborted) return cancel();
      signal?.addEventListener('abort', cancel, { once: true });
      this.waiting.push(grant);
    });
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}
