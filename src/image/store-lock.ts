// The store's lock between content users and the garbage collector: pulls and loads share it
// (they may run at once), a collection holds it alone. A collection that is waiting holds new
// users back, so a stream of pulls cannot starve it; it only waits for those already running.
// In-process only: one process (the VCH, under its state lock) owns an image store at a time.

export class StoreLock {
  #users = 0;
  /** The collection running or waiting, if any; users that come now wait for it. */
  #exclusive: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  /** Runs `fn` alongside other users, after any collection that is running or waiting. */
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive.catch(() => {});
    this.#users++;
    try {
      return await fn();
    } finally {
      if (--this.#users === 0) this.#drained?.();
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
}
