// The store's lock between content users and the garbage collector: pulls and loads share it
// (they may run at once), a collection holds it alone. A collection that is waiting holds new
// users back, so a stream of pulls cannot starve it; it only waits for those already running.
// A collection asked for "when idle" instead runs at once if nothing runs, else after the last
// running user — without holding anyone back meanwhile (so `docker rmi` need not wait for a
// long pull, nor make new pulls wait).
// In-process only: one process (the VCH, under its state lock) owns an image store at a time.

export class StoreLock {
  #users = 0;
  /** The collection running or waiting, if any; users that come now wait for it. */
  #exclusive: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  /** A collection to run once the users running now are done (the latest asked for). */
  #deferred: (() => Promise<unknown>) | undefined;

  /** Runs `fn` alongside other users, after any collection that is running or waiting. */
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive.catch(() => {});
    this.#users++;
    try {
      return await fn();
    } finally {
      if (--this.#users === 0) {
        this.#drained?.();
        const deferred = this.#deferred;
        this.#deferred = undefined;
        // Its errors are its own to report (the function given handles them).
        if (deferred) void this.exclusive(deferred).catch(() => {});
      }
    }
  }

  /** Runs `fn` alone: after the users running now, before any that come later. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive.catch(() => {});
    const run = (async () => {
      if (this.#users > 0) await new Promise<void>((r) => (this.#drained = r));
      this.#drained = undefined;
      return fn();
    })();
    const done = run.then(
      () => {},
      () => {},
    );
    this.#exclusive = done;
    void done.then(() => {
      if (this.#exclusive === done) this.#exclusive = undefined;
    });
    return run;
  }

  /**
   * Runs `fn` alone now if no user runs (resolving with its result), else once the running
   * users are done — then this resolves undefined at once, and `fn` handles its own errors.
   */
  async whenIdle<T>(fn: () => Promise<T>): Promise<T | undefined> {
    if (this.#users === 0) return this.exclusive(fn);
    this.#deferred = fn;
    return undefined;
  }
}
