import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../runtime/runtime.js';
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
