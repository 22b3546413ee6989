// Who waits for which container to exit: wait() parks here, settle() wakes them all at once.
export class Waiters {
  private readonly byId = new Map<string, Set<(err?: Error) => void>>();

  /** Resolves at wake(id), rejects at fail() or when `abort` fires. */
  add(id: string, abort?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const set = this.byId.get(id) ?? new Set();
      this.byId.set(id, set);
      const onAbort = () => {
        set.delete(done);
        reject(abort!.reason ?? new Error('aborted'));
      };
      const done = (err?: Error) => {
        abort?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      set.add(done);
      if (abort?.aborted) onAbort();
      else abort?.addEventListener('abort', onAbort, { once: true });
    });
  }

  wake(id: string): void {
    const set = this.byId.get(id);
    this.byId.delete(id);
    for (const done of set ?? []) done();
  }

  /** Rejects every waiter with the error `why(id)` gives. */
  failAll(why: (id: string) => Error): void {
    for (const [id, set] of this.byId) for (const done of set) done(why(id));
    this.byId.clear();
  }
}
