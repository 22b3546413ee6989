import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { newVicPod, type VicPod } from '../cache/vic-pod.js';
import { type ExecProxy, execInPod } from './pod-exec.js';

/** An attached exec on a double: its output is given, its input and resizes recorded. */
class ExecDouble implements ExecProxy {
  calls: unknown[][] = [];
  out = { stdout: 'hi\n', stderr: 'oops\n' };
  exitCode = 0;
  input = '';
  sizes: string[] = [];
  async startAttachedExec(
    podId: string,
    taskName: string,
    argv: string[],
    o: { stdin: boolean; tty: boolean },
  ) {
    this.calls.push([podId, taskName, argv, o]);
    return 'exec1';
  }
  async execOutput(id: string, which: 'stdout' | 'stderr') {
    this.calls.push(['output', id, which]);
    return Readable.from([Buffer.from(this.out[which])]);
  }
  async execInput(_id: string, input: Readable) {
    for await (const c of input) this.input += String(c);
  }
  async execResize(_id: string, size: { width: number; height: number }) {
    this.sizes.push(`${size.width}x${size.height}`);
  }
  async execWait(podId: string, id: string) {
    this.calls.push(['wait', podId, id]);
    return this.exitCode;
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
  it('starts an attached exec, copies its output apart and answers its exit code', async () => {
    const pl = new ExecDouble();
    pl.exitCode = 7;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const r = await execInPod(pl, runningPod(), 'app', ['sh', '-c', 'exit 7'], {
      stdout,
      stderr,
      tty: false,
      signal: new AbortController().signal,
    });
    expect(r).toEqual({ exitCode: 7 });
    expect(await text(stdout)).toBe('hi\n');
    expect(await text(stderr)).toBe('oops\n');
    expect(pl.calls).toEqual([
      ['pod1', 'app', ['sh', '-c', 'exit 7'], { stdin: false, tty: false }],
      ['output', 'exec1', 'stdout'],
      ['output', 'exec1', 'stderr'],
      ['wait', 'pod1', 'exec1'],
    ]);
  });

  it('feeds stdin and resizes a terminal; a terminal has no stderr', async () => {
    const pl = new ExecDouble();
    const stdout = new PassThrough();
    async function* sizes() {
      yield { width: 80, height: 24 };
    }
    await execInPod(pl, runningPod(), 'app', ['sh'], {
      stdin: Readable.from(['ls\n', 'exit\n']),
      stdout,
      tty: true,
      resize: sizes(),
      signal: new AbortController().signal,
    });
    expect(pl.input).toBe('ls\nexit\n');
    expect(pl.sizes).toEqual(['80x24']);
    expect(pl.calls.filter((c) => c[0] === 'output')).toEqual([['output', 'exec1', 'stdout']]);
    expect(pl.calls[0]![3]).toEqual({ stdin: true, tty: true });
  });

  it('refuses what cannot run, before any exec starts', async () => {
    const pl = new ExecDouble();
    const io = { tty: false, signal: new AbortController().signal };
    await expect(execInPod(pl, runningPod(), 'nope', ['true'], io)).rejects.toMatchObject({
      kind: 'NotFound',
    });
    await expect(execInPod(pl, runningPod(), 'app', [''], io)).rejects.toMatchObject({
      kind: 'InvalidInput',
    });
    const waiting = runningPod();
    waiting.containers.get('app')!.taskId = undefined;
    await expect(execInPod(pl, waiting, 'app', ['true'], io)).rejects.toMatchObject({
      kind: 'Conflict',
    });
    expect(pl.calls).toEqual([]);
  });
});
