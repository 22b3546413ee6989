// RuntimeBase's shared logic over a backend that only records what it is asked to do.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { ContainerRecord } from './container-record.js';
import { exitOutcome } from './container-record.js';
import { RuntimeBase, type ContainerDirs } from './runtime-base.js';
import type { ExecIo, ExecProcess } from './exec.js';

const dir = mkdtempSync(join(tmpdir(), 'runtime-base-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class Recording extends RuntimeBase<ContainerRecord> {
  readonly signals: number[] = [];
  /** The signal the "process" dies of; others it ignores. */
  constructor(private readonly diesOf: number) {
    super(pino({ level: 'silent' }));
  }
  /** What the last exec ran; its "process" writes `output` and exits 0, or waits for a kill. */
  lastExec: ExecProcess | undefined;
  output: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  hangs = false;
  add(id: string): ContainerRecord {
    const rec = {
      id,
      sandboxId: 's',
      status: 'running',
      spec: {
        stopSignal: 'SIGTERM',
        process: { args: ['x'], env: ['PATH=/bin', 'A=1'], cwd: '/w', user: 'app' },
      },
      user: { uid: 1000, gid: 1000, additionalGids: [], home: '/home/app' },
    };
    this.containers.set(id, rec as unknown as ContainerRecord);
    return rec as unknown as ContainerRecord;
  }
  exit(rec: ContainerRecord, code: number) {
    return this.lockedSettle(rec, async () => ({
      ...exitOutcome(undefined, false, 'x'),
      exitCode: code,
    }));
  }
  protected async load() {
    return ['s'];
  }
  protected checkSandbox() {}
  protected containerDirs(_s: string, id: string): ContainerDirs {
    return { record: join(dir, `${id}.json`), rootfs: '', upper: '', work: '', owned: [] };
  }
  protected async runExec(_rec: ContainerRecord, proc: ExecProcess, io: ExecIo) {
    this.lastExec = proc;
    // In several chunks, as a pipe gives them.
    for (const [i, b] of this.output.entries())
      for (let at = 0; at < b.length; at += 7) io[i ? 'stderr' : 'stdout'](b.subarray(at, at + 7));
    if (!this.hangs) return 0;
    return new Promise<number>((resolve) => io.kill.addEventListener('abort', () => resolve(137)));
  }
  protected async deliver(rec: ContainerRecord, signo: number) {
    this.signals.push(signo);
    if (signo === this.diesOf) setTimeout(() => void this.exit(rec, 128 + signo), 5);
  }
}

describe('RuntimeBase', () => {
  it('stop: the stop signal, and SIGKILL only after the grace period', async () => {
    const rt = new Recording(9);
    rt.add('a');
    const t = Date.now();
    const st = await rt.stop('a', { graceMs: 100 });
    expect(Date.now() - t).toBeGreaterThanOrEqual(95);
    expect(rt.signals).toEqual([15, 9]);
    expect(st).toMatchObject({ status: 'exited', exitCode: 137 });
    // The exit was written where the backend keeps the record.
    expect(JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8'))).toMatchObject({ exitCode: 137 });
  });

  it('stop of a container that heeds the signal sends nothing more', async () => {
    const rt = new Recording(15);
    rt.add('b');
    expect(await rt.stop('b', { graceMs: 5000 })).toMatchObject({ exitCode: 143 });
    expect(rt.signals).toEqual([15]);
  });

  it('an exit is settled once and wakes every waiter; kill of an exited one is a Conflict', async () => {
    const rt = new Recording(0);
    const rec = rt.add('c');
    const waits = [rt.wait('c'), rt.wait('c')];
    await rt.exit(rec, 3);
    await rt.exit(rec, 4); // a second report of the same run changes nothing
    for (const w of await Promise.all(waits)) expect(w).toMatchObject({ exitCode: 3 });
    await expect(rt.kill('c', 'TERM')).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(rt.state('nope')).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('a waiter hears of close() instead of waiting for ever; an abort ends its wait', async () => {
    const rt = new Recording(0);
    rt.add('d');
    const ac = new AbortController();
    const aborted = rt.wait('d', ac.signal);
    ac.abort(new Error('enough'));
    await expect(aborted).rejects.toThrow('enough');
    const w = rt.wait('d');
    await rt.close();
    await expect(w).rejects.toMatchObject({ kind: 'Unavailable' });
  });

  it("exec: the container's env, cwd and user unless the exec says otherwise", async () => {
    const rt = new Recording(0);
    rt.add('e');
    await rt.exec('e', { args: ['id'], env: ['A=2', 'B=3'] });
    expect(rt.lastExec).toEqual({
      args: ['id'],
      env: ['PATH=/bin', 'A=2', 'B=3', 'HOME=/home/app'],
      cwd: '/w',
      user: { uid: 1000, gid: 1000, additionalGids: [], home: '/home/app' },
    });
    await rt.exec('e', { args: ['id'], cwd: '/', env: ['HOME=/x'] });
    expect(rt.lastExec).toMatchObject({ cwd: '/', env: ['PATH=/bin', 'A=1', 'HOME=/x'] });
  });

  it('exec: keeps each stream up to its limit and says which it cut', async () => {
    const rt = new Recording(0);
    rt.add('f');
    rt.output = [Buffer.from('0123456789abcdefghij'), Buffer.from('err')];
    const r = await rt.exec('f', { args: ['x'] }, { outputLimitBytes: 10 });
    expect(r.stdout.toString()).toBe('0123456789');
    expect(r.stderr.toString()).toBe('err');
    expect(r.truncated).toEqual({ stdout: true, stderr: false });
    const whole = await rt.exec('f', { args: ['x'] }, { outputLimitBytes: 20 });
    expect(whole.truncated).toEqual({ stdout: false, stderr: false });
    await expect(rt.exec('f', { args: ['x'] }, { outputLimitBytes: 0 })).rejects.toMatchObject({
      kind: 'InvalidInput',
    });
  });

  it('exec: a timeout kills and says timedOut; an abort kills and rejects', async () => {
    const rt = new Recording(0);
    rt.add('g');
    rt.hangs = true;
    const t = Date.now();
    const r = await rt.exec('g', { args: ['sleep'] }, { timeoutMs: 50 });
    expect(Date.now() - t).toBeGreaterThanOrEqual(45);
    expect(r).toMatchObject({ exitCode: 137, timedOut: true });
    const ac = new AbortController();
    const p = rt.exec('g', { args: ['sleep'] }, { signal: ac.signal });
    ac.abort(new Error('gave up'));
    await expect(p).rejects.toThrow('gave up');
  });

  it('exec: refuses what cannot run, and a container that does not run', async () => {
    const rt = new Recording(0);
    const rec = rt.add('h');
    for (const spec of [
      { args: [] },
      { args: [''] },
      { args: ['x'], cwd: 'rel' },
      { args: ['a\0b'] },
    ])
      await expect(rt.exec('h', spec)).rejects.toMatchObject({ kind: 'InvalidInput' });
    await expect(rt.exec('nope', { args: ['x'] })).rejects.toMatchObject({ kind: 'NotFound' });
    await rt.exit(rec, 0);
    await expect(rt.exec('h', { args: ['x'] })).rejects.toMatchObject({ kind: 'Conflict' });
  });
});
