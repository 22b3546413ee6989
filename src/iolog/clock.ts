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
 * A deterministic clock for tests and vectors, as the vectors define it: each call returns the
 * previous value plus `step`; the first call returns `start + step`.
 */
export function steppingClock(start: bigint, step: bigint): Clock {
  let now = start;
  return () => (now += step);
}
