// Clocks for the log writer: nanoseconds since the Unix epoch, as bigint.

/** Returns the time, in Unix nanoseconds, to stamp on the next entry. */
export type Clock = () => bigint;

// Node has no nanosecond wall clock. performance.timeOrigin + performance.now() is the wall
// clock at sub-microsecond resolution but costs a float round trip; process.hrtime is the
// monotonic clock in integer nanoseconds. So: read the wall clock once, and count forward on the
// monotonic clock. Timestamps then never step backwards while a process runs (which keeps the
// log sorted, and `since` a binary search) even if the system clock is adjusted.
const offset =
  BigInt(Math.round(performance.timeOrigin * 1e3)) * 1000n +
  BigInt(Math.round(performance.now() * 1e6)) -
  process.hrtime.bigint();

/** The system clock in Unix nanoseconds. */
export const systemClock: Clock = () => process.hrtime.bigint() + offset;

/**
 * The system clock as the log writer uses it by default: read once per synchronous run of
 * JavaScript, so every entry cut from one chunk of input carries the time that chunk arrived
 * (its bytes did arrive together, in one read). The writer still asks once per entry; the
 * answer is reused until the current task yields. Reading the system clock costs about 60 ns
 * on the machines measured here, a third of everything else an entry costs, and with a
 * fresh reading per entry the writer stays under its throughput target (see bench/).
 */
export function arrivalClock(source: Clock = systemClock): Clock {
  let cached: bigint | undefined;
  const expire = () => {
    cached = undefined;
  };
  return () => {
    if (cached === undefined) {
      cached = source();
      queueMicrotask(expire);
    }
    return cached;
  };
}

/**
 * A deterministic clock for tests and vectors, as the vectors define it: each call returns the
 * previous value plus `step`; the first call returns `start + step`.
 */
export function steppingClock(start: bigint, step: bigint): Clock {
  let now = start;
  return () => (now += step);
}
