import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { TaskInspectResponse, TaskJoinConfig } from '../../../api/portlayer/index.js';
import { newVicPod, type VicPod } from '../cache/vic-pod.js';
import { type ExecProxy, execInPod } from './pod-exec.js';

/** The portlayer's exec task calls, recorded; each exec answers `answer`. */
class ExecDouble implements ExecProxy {
  calls: string[] = [];
  joined: Omit<TaskJoinConfig, 'handle'>[] = [];
  answer: TaskInspectResponse = { id: 'x', state: 'exited', exitCode: 0 };
  private n = 0;
  async handle(id: string) {
    this.calls.push(`handle ${id}`);
    return `h${++this.n}`;
  }
  async createHandleTask(handle: string, task: Omit<TaskJoinConfig, 'handle'>) {
    this.calls.push(`join ${handle}`);
    this.joined.push(task);
    return { handle: `${handle}+exec`, id: 'e1' };
  }
  async bindTask(handle: string, id: string) {
    this.calls.push(`bind ${handle} ${id}`);
    return `${handle}+bound`;
  }
  async commitHandle(handle: string) {
    this.calls.push(`commit ${handle}`);
  }
  async waitTask(handle: string, id: string) {
    this.calls.push(`wait ${handle} ${id}`);
  }
  async inspectTask(handle: string, id: string) {
    this.calls.push(`inspect ${handle} ${id}`);
    return this.answer;
  }
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
  it('joins, binds and commits an exec task, waits, and writes its output and exit code', async () => {
    const pl = new ExecDouble();
    pl.answer = {
      id: 'e1',
      state: 'exited',
      exitCode: 7,
      stdout: Buffer.from('hi\n').toString('base64'),
      stderr: Buffer.from('oops\n').toString('base64'),
    };
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
    expect(pl.joined).toEqual([
      { execIn: 'app', path: 'sh', args: ['-c', 'echo hi; exit 7'], env: [] },
    ]);
    expect(pl.calls).toEqual([
      'handle pod1',
      'join h1',
      'bind h1+exec e1',
      'commit h1+exec+bound',
      'handle pod1',
      'wait h2 e1',
      'handle pod1',
      'inspect h3 e1',
    ]);
  });

  it('drops the streams the client did not ask for', async () => {
    const pl = new ExecDouble();
    pl.answer = { id: 'e1', exitCode: 0, stderr: Buffer.from('x').toString('base64') };
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
    pl.answer = { id: 'e1', exitCode: 0, stdout: 'YQ==', stdoutTruncated: true };
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
