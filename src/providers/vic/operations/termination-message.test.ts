import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { newVicPod } from '../cache/vic-pod.js';
import type { IsolationProxy, LogsOptions, TaskInfo } from '../proxy/isolation-proxy.js';
import { taskConfig } from './container-config.js';
import { terminatedState } from './pod-status.js';
import { logTail, readFallbacks, terminationMessageOf } from './termination-message.js';

const task = (p: Partial<TaskInfo['processConfig']>): TaskInfo => ({
  id: 'a'.repeat(64),
  name: 'app',
  restartCount: 0,
  processConfig: { status: 'exited', exitCode: 1, finishedAt: '2026-01-01T00:00:00Z', ...p },
});

const podWith = (c: Partial<k8s.V1Container>) =>
  newVicPod({
    metadata: { name: 'p', namespace: 'ns', uid: 'u' },
    spec: { containers: [{ name: 'app', image: 'busybox', ...c }] },
  });

describe('termination messages', () => {
  it('the path goes to the VCH with the task, /dev/termination-log by default', () => {
    const image = { entrypoint: [], cmd: ['sh'], env: [], workingDir: '', user: '' };
    const pod = podWith({}).pod;
    const c = pod.spec!.containers[0];
    expect(taskConfig(pod, c, image as never).terminationMessagePath).toBe('/dev/termination-log');
    c.terminationMessagePath = '/var/msg';
    expect(taskConfig(pod, c, image as never).terminationMessagePath).toBe('/var/msg');
  });

  it("the VCH's termination message is state.terminated.message", () => {
    const vp = podWith({});
    const t = task({ terminationMessage: 'bye' });
    expect(terminatedState(t, vp).message).toBe('bye');
    // A failed start says why instead.
    const failed = task({ status: 'created', errorMsg: 'exec: no such file', exitCode: 128 });
    expect(terminatedState(failed, vp).message).toBe('exec: no such file');
  });

  it('FallbackToLogsOnError: the end of the log of a failed run without a message, read once', async () => {
    const calls: string[] = [];
    // Only logs is asked of the VCH here.
    const isolation = {
      logs: async (id: string, o: LogsOptions) => {
        calls.push(`logs ${id} ${JSON.stringify(o)}`);
        return Readable.from(['first\n', 'last words\n']);
      },
    } as unknown as IsolationProxy;
    const vp = podWith({ terminationMessagePolicy: 'FallbackToLogsOnError' });
    const failed = task({});
    vp.info = { tasks: [failed] } as never;
    await readFallbacks(vp, isolation);
    expect(terminationMessageOf(vp, failed)).toBe('first\nlast words\n');
    expect(calls).toEqual([`logs ${failed.id} {"tail":80}`]);
    await readFallbacks(vp, isolation);
    expect(calls).toHaveLength(1);
    // A run that succeeded, or left a message, or a File policy: no fallback.
    const ok = task({ exitCode: 0, finishedAt: 'later' });
    const said = task({ terminationMessage: 'own words', finishedAt: 'later still' });
    vp.info = { tasks: [ok] } as never;
    await readFallbacks(vp, isolation);
    vp.info = { tasks: [said] } as never;
    await readFallbacks(vp, isolation);
    expect(calls).toHaveLength(1);
    expect(terminationMessageOf(vp, said)).toBe('own words');
    const file = podWith({});
    file.info = { tasks: [failed] } as never;
    await readFallbacks(file, isolation);
    expect(terminationMessageOf(file, failed)).toBeUndefined();
  });

  it('keeps the last 2 KiB of the tail', () => {
    expect(logTail('short\n')).toBe('short\n');
    const long = `${'x'.repeat(3000)}\nend\n`;
    expect(logTail(long)).toBe(long.slice(long.length - 2048));
  });
});
