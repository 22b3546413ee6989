// One VCH per state directory: `<state>/vch.lock` holds the pid of the VCH that has it open.
// A lock left by a VCH that died (SIGKILL, a crash) names a process that is gone, and is taken
// over; a live one is refused, since two VCHs on one database would fight over its containers.
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict } from './errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class StateLock {
  private constructor(readonly file: string) {}

  static async acquire(stateDir: string): Promise<StateLock> {
    const file = join(stateDir, 'vch.lock');
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await open(file, 'wx', 0o644);
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        return new StateLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      }
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid))
        throw conflict(`the VCH state directory ${stateDir} is in use by process ${pid}`);
      await unlink(file).catch(() => {});
    }
  }

  async release(): Promise<void> {
    await unlink(this.file).catch(() => {});
  }
}
