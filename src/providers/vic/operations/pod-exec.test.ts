import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { newVicPod, type VicPod } from '../cache/vic-pod.js';
import type { ExecTaskResult } from '../proxy/isolation-proxy.js';
import { type ExecProxy, execInPod } from './pod-exec.js';

/** The exec task calls, recorded; each exec answers `answer`. */
class ExecDouble implements ExecProxy {
  calls: unknown[][] = [];
  answer: ExecTaskResult = result(0);
  async execInTask(
    podId: string,
    taskName: string,
    argv: string[],
    timeoutSec?: number,
    signal?: AbortSignal,
  ) {
    this.calls.push([podId, taskName, argv, timeoutSec, signal !== undefined]);
    return this.answer;
  }
}

function result(exitCode: number, o: Partial<ExecTaskResult> = {}): ExecTaskResult {
  return {
    exitCode,
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    timedOut: false,
    stdoutTruncated: false,
    stderrTruncated: false,
    ...o,
  };
}

function runningPod(): VicPod {
  const vp = newVicPod({
    metadata: { namespace: 'ns', name: 'web' },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  });
  vp.id = 'pod1';
  vp.containers.get('app')!.taskId = 'task1';
  return vp;
}

const text = async (s: PassThrough) => {
  s.end();
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
};

describe('execInPod', () => {
  it('runs an exec task with no time limit and writes its output and exit code', async () => {
    const pl = new ExecDouble();
    pl.answer = result(7, { stdout: Buffer.from('hi\n'), stderr: Buffer.from('oops\n') });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const signal = new AbortController().signal;
    const r = await execInPod(pl, runningPod(), 'app', ['sh', '-c', 'echo hi; exit 7'], {
      stdout,
      stderr,
      tty: false,
      signal,
    });
    expect(r).toEqual({ exitCode: 7 });
    expect(await text(stdout)).toBe('hi\n');
    expect(await text(stderr)).toBe('oops\n');
    expect(pl.calls).toEqual([['pod1', 'app', ['sh', '-c', 'echo hi; exit 7'], undefined, true]]);
  });

  it('drops the streams the client did not ask for', async () => {
    const pl = new ExecDouble();
    pl.answer = result(0, { stderr: Buffer.from('x') });
    const stdout = new PassThrough();
    const r = await execInPod(pl, runningPod(), 'app', ['true'], {
      stdout,
      tty: false,
      signal: new AbortController().signal,
    });
    expect(r.exitCode).toBe(0);
    expect(await text(stdout)).toBe('');
  });

  it.each([
    [
      'stdin',
      { stdin: new PassThrough(), tty: false },
      'NotImplemented',
      /interactive exec is not supported by this node yet/,
    ],
    [
      'a TTY',
      { tty: true },
      'NotImplemented',
      /interactive exec is not supported by this node yet/,
    ],
  ])('refuses %s before it starts anything', async (_what, io, kind, message) => {
    const pl = new ExecDouble();
    const p = execInPod(pl, runningPod(), 'app', ['sh'], {
      ...io,
      signal: new AbortController().signal,
    });
    await expect(p).rejects.toMatchObject({ kind, message: expect.stringMatching(message) });
    expect(pl.calls).toEqual([]);
  });

  it('refuses an unknown container and one that does not run', async () => {
    const pl = new ExecDouble();
    const io = { tty: false, signal: new AbortController().signal, stdout: new PassThrough() };
    await expect(execInPod(pl, runningPod(), 'nope', ['true'], io)).rejects.toMatchObject({
      kind: 'NotFound',
      message: 'container nope is not in pod ns/web',
    });
    const waiting = runningPod();
    waiting.containers.get('app')!.taskId = undefined;
    await expect(execInPod(pl, waiting, 'app', ['true'], io)).rejects.toMatchObject({
      kind: 'Conflict',
    });
    expect(pl.calls).toEqual([]);
  });

  it('fails an exec whose output was cut, after writing what there is', async () => {
    const pl = new ExecDouble();
    pl.answer = result(0, { stdout: Buffer.from('a'), stdoutTruncated: true });
    const stdout = new PassThrough();
    await expect(
      execInPod(pl, runningPod(), 'app', ['yes'], {
        stdout,
        tty: false,
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow(/more than 1 MiB to stdout/);
    expect(await text(stdout)).toBe('a');
  });
});
