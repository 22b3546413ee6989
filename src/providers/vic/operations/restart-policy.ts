// restartPolicy and the kubelet's back-off: a container that exits is restarted under Always,
// under OnFailure when its exit code is not 0, never under Never. The first restart is at once;
// each later one waits 10 s, then twice as long each time, at most 5 min; a container that ran
// 10 min before exiting starts over at once. Image pulls back off the same way.
import type { ContainerRecord } from '../cache/vic-pod.js';

export const BACKOFF_INITIAL_MS = 10_000;
export const BACKOFF_MAX_MS = 5 * 60_000;
export const BACKOFF_RESET_MS = 10 * 60_000;

export function shouldRestart(restartPolicy: string | undefined, exitCode: number): boolean {
  switch (restartPolicy ?? 'Always') {
    case 'Never':
      return false;
    case 'OnFailure':
      return exitCode !== 0;
    default:
      return true;
  }
}

/**
 * The back-off before the next restart of a container restarted `restarts` times already (the
 * delay nextAttempt would have reached): after a node restart, from the VCH's restartCount.
 */
export function backoffAfter(restarts: number): number {
  if (restarts <= 0) return 0;
  return Math.min(BACKOFF_INITIAL_MS * 2 ** Math.min(restarts - 1, 30), BACKOFF_MAX_MS);
}

/** When the next attempt is due (epoch ms), moving the container's back-off on. */
export function nextAttempt(c: ContainerRecord, now: number, ranMs = 0): number {
  if (ranMs >= BACKOFF_RESET_MS) c.backoffMs = 0;
  const due = now + c.backoffMs;
  c.backoffMs = c.backoffMs === 0 ? BACKOFF_INITIAL_MS : Math.min(c.backoffMs * 2, BACKOFF_MAX_MS);
  return due;
}
