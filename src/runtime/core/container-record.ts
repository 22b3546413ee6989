// What a backend remembers of a container (on disk, as JSON, in a directory the container cannot
// reach) and how that maps to the ContainerState the VCH sees. The backends add their own fields.
import type { ContainerSpec, ContainerState, ContainerStatus } from '../runtime.js';
import type { ResolvedUser } from '../user.js';
import type { ExitedRecord, StartedRecord } from './protocol.js';
import type { ProcessIdentity } from './proc.js';
import type { RootfsMode } from './rootfs.js';
import { now, nsToTime } from './time.js';

export interface ContainerRecord {
  id: string;
  sandboxId: string;
  spec: ContainerSpec;
  user: ResolvedUser;
  rootfsMode: RootfsMode;
  status: ContainerStatus;
  /** The host process that is the container's init (runc), while it runs. */
  init?: ProcessIdentity;
  /** Unix ns of the current (or last) run's start, as its started record said. */
  startedNs?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  reason?: string;
  /** The run's termination message, read when it exited. */
  message?: string;
}

export function toState(rec: ContainerRecord): ContainerState {
  const s: ContainerState = { id: rec.id, status: rec.status };
  if (rec.status === 'running' && rec.init) s.pid = rec.init.pid;
  if (rec.startedAt) s.startedAt = rec.startedAt;
  if (rec.status === 'exited') {
    if (rec.finishedAt) s.finishedAt = rec.finishedAt;
    if (rec.exitCode !== undefined) s.exitCode = rec.exitCode;
    if (rec.reason) s.reason = rec.reason;
    if (rec.message) s.message = rec.message;
  }
  return s;
}

/** The record of a run that has begun: its start time from the started record, or now. */
export function markRunning(rec: ContainerRecord, started?: StartedRecord): void {
  rec.status = 'running';
  rec.startedNs = started ? started.startedNs.toString() : undefined;
  rec.startedAt = started ? nsToTime(started.startedNs) : now();
  rec.finishedAt = rec.exitCode = rec.reason = rec.message = undefined;
}

/** How a run ended, as settle() records it. */
export interface ExitOutcome {
  exitCode: number;
  finishedAt: string;
  reason?: string;
}

/**
 * The outcome from the exited record when there is one; without one, `reason` says why ("Killed":
 * its init died with no word, "Lost": found gone after a restart, or the backend's own) and
 * the code is 255 for Lost, 137 otherwise. `oom`: the OOM killer struck (Docker's OOMKilled).
 */
export function exitOutcome(
  exit: ExitedRecord | undefined,
  oom: boolean,
  reason: string,
): ExitOutcome {
  if (exit)
    return {
      exitCode: exit.exitCode,
      finishedAt: nsToTime(exit.finishedNs),
      reason: oom ? 'OOMKilled' : undefined,
    };
  return {
    exitCode: reason === 'Lost' ? 255 : 137,
    finishedAt: now(),
    reason: oom ? 'OOMKilled' : reason,
  };
}
