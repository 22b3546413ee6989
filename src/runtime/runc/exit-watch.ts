// A runc container's start and exit as the host learns them. The VCH opens the container's
// status file (in the container's state directory, which the container cannot reach) and hands
// it to the tether as an fd (--status-fd); the tether appends one `started` and one `exited`
// record (tether/protocol.h) and keeps the fd from the process it runs. The file is still read
// defensively (core/safe-read.ts): a regular file, at most a few KiB.
//
// The VCH is not the parent of its containers (runc hands them to the host's reaper, so they
// outlive the VCH), so it cannot wait() for them: it watches the status file for the exited
// record, and polls the init's liveness for when the tether could write none (SIGKILL, the
// OOM killer striking the tether itself).
import { type FSWatcher, watch } from 'node:fs';
import { lastRecords, type ExitedRecord, type StartedRecord } from '../core/protocol.js';
import { isAlive, type ProcessIdentity } from '../core/proc.js';
import { readTextCapped } from '../core/safe-read.js';

/** Far more than one run's two records; a file longer than this was not written by a tether. */
const STATUS_CAP = 64 * 1024;

export async function readStatus(
  path: string,
): Promise<{ started?: StartedRecord; exited?: ExitedRecord }> {
  const text = await readTextCapped(path, STATUS_CAP);
  return text === undefined ? {} : lastRecords(text);
}

export const readExit = async (path: string) => (await readStatus(path)).exited;

export class ExitWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout;
  private done = false;
  private checking = false;
  private again = false;

  /** onExit gets the tether's exited record, or undefined when the init died without one. */
  constructor(
    private readonly statusPath: string,
    private readonly init: ProcessIdentity,
    private readonly onExit: (exit: ExitedRecord | undefined) => void,
    // Each poll reads /proc/<pid>/stat: at 500 ms, 1000 containers cost the node half its CPU
    // (the 1000-pod bench). A normal exit comes at once through inotify; only a tether killed
    // before it could write (SIGKILL, the OOM killer) waits for the poll.
    pollMs = 2000,
  ) {
    try {
      this.watcher = watch(statusPath, () => void this.check(true));
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // No inotify (or no file yet): the poll alone does it.
    }
    // Referenced: whoever waits for an exit is kept alive until it comes (close() stops us).
    this.timer = setInterval(() => void this.check(false), pollMs);
    void this.check(true);
  }

  /**
   * `look`: read the file even while the init lives (it changed). The poll only asks the
   * kernel whether the init still runs: the tether writes its exited record before it exits,
   * so a live init means there is nothing to read yet.
   */
  async check(look: boolean): Promise<void> {
    if (this.done) return;
    if (this.checking) {
      this.again ||= look;
      return;
    }
    if (!look && isAlive(this.init)) return;
    this.checking = true;
    try {
      let exit = await readExit(this.statusPath);
      if (!exit && !isAlive(this.init)) {
        // The record is written before the tether exits: read once more after seeing it gone,
        // so an exit between the two looks is not taken for a kill.
        exit = await readExit(this.statusPath);
      } else if (!exit) return;
      this.stop();
      this.onExit(exit);
    } finally {
      this.checking = false;
      if (this.again && !this.done) {
        this.again = false;
        void this.check(true);
      }
    }
  }

  stop(): void {
    this.done = true;
    clearInterval(this.timer);
    this.watcher?.close();
  }
}
