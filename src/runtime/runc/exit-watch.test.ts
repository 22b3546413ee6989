import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExitedRecord } from '../core/protocol.js';
import { identify } from '../core/proc.js';
import { ExitWatcher, readStatus } from './exit-watch.js';

const dir = mkdtempSync(join(tmpdir(), 'exit-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sleeper() {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const id = identify(child.pid!)!;
  return { child, id };
}

function watch(statusPath: string, id: ReturnType<typeof identify>, pollMs = 50) {
  let w!: ExitWatcher;
  const exited = new Promise<ExitedRecord | undefined>((resolve) => {
    w = new ExitWatcher(statusPath, id!, resolve, pollMs);
  });
  return { w, exited };
}

describe('ExitWatcher', () => {
  it('reports the exit status as soon as the tether writes it', async () => {
    const { child, id } = sleeper();
    const status = join(mkdtempSync(join(dir, 's-')), 'status');
    writeFileSync(status, 'started - 1 1\n');
    const { exited } = watch(status, id, 10_000); // only the inotify watch can be this quick
    const t = Date.now();
    appendFileSync(status, 'exited - 3 0 1 2 0 -\n');
    expect(await exited).toMatchObject({ exitCode: 3 });
    expect(Date.now() - t).toBeLessThan(2000);
    child.kill('SIGKILL');
  });

  it('reports undefined when the init dies without a status', async () => {
    const { child, id } = sleeper();
    const status = join(mkdtempSync(join(dir, 's-')), 'status');
    const { exited } = watch(status, id);
    child.kill('SIGKILL');
    expect(await exited).toBeUndefined();
  });

  it('does not report while the process runs, nor after stop()', async () => {
    const { child, id } = sleeper();
    const status = join(mkdtempSync(join(dir, 's-')), 'status');
    let called = false;
    const w = new ExitWatcher(status, id, () => (called = true), 10);
    await new Promise((r) => setTimeout(r, 100));
    expect(called).toBe(false);
    w.stop();
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    expect(called).toBe(false);
  });
});

describe('readStatus', () => {
  it('reads nothing from a FIFO, a symlink or an oversized file, and does not block', async () => {
    const d = mkdtempSync(join(dir, 'r-'));
    execFileSync('mkfifo', [join(d, 'fifo')]);
    symlinkSync('/dev/zero', join(d, 'zero'));
    writeFileSync(join(d, 'big'), 'exited - 3 0 1 2 0 -\n'.repeat(10_000));
    const t = Date.now();
    for (const f of ['fifo', 'zero', 'big', 'missing'])
      expect(await readStatus(join(d, f))).toEqual({});
    expect(Date.now() - t).toBeLessThan(1000);
  });
});
