import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ExecResult, ExecStream } from '../../runtime/runtime.js';
import type { PodInfo } from '../types.js';
import type { Vch } from '../vch.js';
import type { Directory } from './directory.js';
import { ExecTasks } from './exec-tasks.js';

const done: ExecResult = {
  exitCode: 0,
  stdout: Buffer.alloc(0),
  stderr: Buffer.alloc(0),
  truncated: { stdout: false, stderr: false },
  timedOut: false,
};

function execTasks(max: number, finish: () => Promise<ExecResult>) {
  const vch = { execInContainer: finish } as unknown as Vch;
  const dir = {
    tasksOf: async () => [{ id: 't', nameInPod: 'app', status: 'running' }],
  } as unknown as Directory;
  return new ExecTasks(vch, dir, 60_000, max);
}

const spec = (n: number) => ({
  id: String(n).padStart(64, '0'),
  execIn: 'app',
  path: 'true',
  args: [],
  env: [],
});
const pod = {} as PodInfo;

describe('ExecTasks', () => {
  it('finished execs make room for new ones (a probe every second never runs out)', async () => {
    const execs = execTasks(2, async () => done);
    for (let i = 1; i <= 5; i++) {
      await execs.start(pod, 'p', spec(i));
      await execs.wait(spec(i).id, 'p');
    }
    expect(execs.inspect(spec(5).id, 'p').exitCode).toBe(0);
    expect(execs.has(spec(1).id)).toBe(false); // the oldest went first
  });

  it('running execs are never dropped: past the limit a new one is refused', async () => {
    const execs = execTasks(2, () => new Promise<ExecResult>(() => {}));
    await execs.start(pod, 'p', spec(1));
    await execs.start(pod, 'p', spec(2));
    await expect(execs.start(pod, 'p', spec(3))).rejects.toMatchObject({ kind: 'Unavailable' });
  });
});

describe('ExecTasks: attached execs', () => {
  /** An ExecStream double: output given, killed when asked, exit at the end of stdout. */
  function attached() {
    const stdout = new PassThrough();
    const sizes: string[] = [];
    let killed = false;
    let exit!: (code: number) => void;
    const stream: ExecStream = {
      stdin: new PassThrough(),
      stdout,
      resize: (s) => void sizes.push(`${s.width}x${s.height}`),
      kill: () => {
        killed = true;
        exit(137);
      },
      exit: new Promise((r) => (exit = r)),
    };
    const vch = { execStream: async () => stream } as unknown as Vch;
    const dir = {
      tasksOf: async () => [{ id: 't', nameInPod: 'app', status: 'running' }],
    } as unknown as Directory;
    return {
      execs: new ExecTasks(vch, dir),
      stream,
      sizes,
      exit: (c: number) => exit(c),
      killed: () => killed,
    };
  }
  const attachedSpec = { ...spec(9), attach: true, openStdin: true, tty: true };

  it('hands each stream out once, resizes while it runs, and answers the exit code', async () => {
    const a = attached();
    await a.execs.start(pod, 'p', attachedSpec);
    expect(a.execs.take(attachedSpec.id, 'stdout')).toBe(a.stream);
    expect(() => a.execs.take(attachedSpec.id, 'stdout')).toThrow(/attached already/);
    a.execs.running(attachedSpec.id).resize({ width: 80, height: 24 });
    expect(a.sizes).toEqual(['80x24']);
    a.exit(3);
    await a.execs.wait(attachedSpec.id, 'p');
    const r = a.execs.inspect(attachedSpec.id, 'p');
    expect(r).toMatchObject({ state: 'exited', exitCode: 3, tty: true, openStdin: true });
    expect(r.stdout).toBeUndefined();
    expect(() => a.execs.running(attachedSpec.id)).toThrow(/not running/);
  });

  it('an exec that is not attached has no streams to take', async () => {
    const execs = execTasks(2, async () => done);
    await execs.start(pod, 'p', spec(1));
    expect(() => execs.take(spec(1).id, 'stdout')).toThrow(/no attached exec/);
  });
});
