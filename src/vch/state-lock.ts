// One VCH per state directory. The lock is SQLite's exclusive lock on `<state>/vch.lock` (POSIX
// record locks underneath, as flock would be): the kernel holds it while this process has the file
// open and drops it when the process ends, however it ends — no pid to check, no stale file to
// remove, so no check-then-unlink window in which two VCHs could both get in. The holder's pid
// goes to `<state>/vch.pid`, for the refusal's message only. The file is never removed (removing
// a lock file while someone may have it open is how two holders happen).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { conflict, unavailable } from './errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const pidIn = (file: string): number | undefined => {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

export class StateLock {
  private constructor(private readonly db: Database.Database) {}

  static async acquire(stateDir: string): Promise<StateLock> {
    const file = join(stateDir, 'vch.lock');
    const pidFile = join(stateDir, 'vch.pid');
    for (let attempt = 0; ; attempt++) {
      let db: Database.Database | undefined;
      try {
        // No busy wait: a held lock is an answer, not something to queue for.
        db = new Database(file, { timeout: 0 });
        db.pragma('locking_mode = EXCLUSIVE');
        db.exec('BEGIN EXCLUSIVE');
        writeFileSync(pidFile, `${process.pid}\n`);
        return new StateLock(db);
      } catch (e) {
        db?.close();
        const code = (e as { code?: string }).code;
        if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
          const pid = pidIn(pidFile);
          throw conflict(
            `the VCH state directory ${stateDir} is in use by ${pid ? `process ${pid}` : 'another process'}`,
          );
        }
        // A lock of an older VCH: a text file with its pid. Taken over once its process is gone.
        if (code === 'SQLITE_NOTADB' && attempt === 0) {
          const pid = pidIn(file);
          if (pid && alive(pid))
            throw conflict(`the VCH state directory ${stateDir} is in use by process ${pid}`);
          rmSync(file, { force: true });
          continue;
        }
        throw unavailable(
          `cannot lock the VCH state directory ${stateDir}: ${(e as Error).message}`,
        );
      }
    }
  }

  async release(): Promise<void> {
    // Closing rolls the open transaction back and lets go of the lock.
    if (this.db.open) this.db.close();
  }
}
