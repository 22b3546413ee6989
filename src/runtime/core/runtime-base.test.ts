// RuntimeBase's shared logic over a backend that only records what it is asked to do.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { ContainerRecord } from './container-record.js';
import { exitOutcome } from './container-record.js';
import { RuntimeBase, type ContainerDirs } from './runtime-base.js';

const dir = mkdtempSync(join(tmpdir(), 'runtime-base-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class Recording extends RuntimeBase<ContainerRecord> {
  readonly signals: number[] = [];
  /** The signal the "process" dies of; others it ignores. */
  constructor(private readonly diesOf: number) {
    super(pino({ level: 'silent' }));
  }
  add(id: string): ContainerRecord {
    const rec = { id, sandboxId: 's', status: 'running', spec: { stopSignal: 'SIGTERM' } };
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
});
