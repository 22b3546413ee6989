// Noticing that a container has exited. The VCH is not the parent of its containers (runc
// hands them to the host's reaper, so they outlive the VCH), so it cannot wait() for them:
// it watches the status directory for the tether's exit.json, and polls the init's liveness
// for the case where the tether could leave none (SIGKILL, OOM kill of the tether itself).
import { type FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import { readJson } from './files.js';
import { isAlive, type ProcessIdentity } from './proc.js';

/** What the tether writes (tether/status.h). */
export interface ExitStatus {
  pid: number;
  exitCode: number;
  signal: number;
  startedNs: string;
  finishedNs: string;
  error?: string;
}
export interface StartedStatus {
  pid: number;
  startedNs: string;
}

export const readExit = (statusDir: string) => readJson<ExitStatus>(join(statusDir, 'exit.json'));
export const readStarted = (statusDir: string) =>
  readJson<StartedStatus>(join(statusDir, 'started.json'));

export class ExitWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout;
  private done = false;
  private checking = false;
  private again = false;

  /** onExit gets the tether's exit status, or undefined when the init died without one. */
  constructor(
    private readonly statusDir: string,
    private readonly init: ProcessIdentity,
    private readonly onExit: (exit: ExitStatus | undefined) => void,
    pollMs = 500,
  ) {
    try {
      this.watcher = watch(statusDir, () => void this.check(true));
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // No inotify: the poll alone does it.
    }
    // Referenced: whoever waits for an exit is kept alive until it comes (close() stops us).
    this.timer = setInterval(() => void this.check(false), pollMs);
    void this.check(true);
  }

  /**
   * `look`: read exit.json even while the init lives (a change in the directory). The poll
   * only asks the kernel whether the init still runs: the tether writes exit.json just before
   * it exits, so a live init means there is nothing to read yet.
   */
  async check(look: boolean): Promise<void> {
    if (this.done) return;
    if (this.checking) {
      // A change while we look (the rename after the temporary file): look once more after.
      this.again ||= look;
      return;
    }
    if (!look && isAlive(this.init)) return;
    this.checking = true;
    try {
      let exit = await readExit(this.statusDir);
      if (!exit && !isAlive(this.init)) {
        // The tether renames exit.json into place before it exits: read once more after
        // seeing it gone, so an exit between the two looks is not taken for a kill.
        exit = await readExit(this.statusDir);
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
