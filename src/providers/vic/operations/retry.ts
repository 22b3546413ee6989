// A handle goes stale when something else committed a change to its container first: the
// portlayer refuses it (Conflict) and the change is made again on a fresh handle.
import { errorKind } from '../../../node/errors.js';

export async function retryOnConflict<T>(change: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await change();
    } catch (err) {
      if (errorKind(err) !== 'Conflict' || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 50 * i));
    }
  }
}

/** Waits `ms`, or less when `signal` aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(() => {
      signal.removeEventListener('abort', done);
      resolve();
    }, ms);
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
  });
}
