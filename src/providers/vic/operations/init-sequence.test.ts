import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { TaskInfo } from '../proxy/isolation-proxy.js';
import {
  initProgress,
  mayStart,
  podFinished,
  restartsAfter,
  stopOrder,
  type Tasks,
} from './init-sequence.js';

const spec = (restartPolicy = 'Always'): k8s.V1PodSpec => ({
  restartPolicy,
  initContainers: [
    { name: 'a', image: 'i' },
    { name: 'side', image: 'i', restartPolicy: 'Always' },
    { name: 'b', image: 'i' },
  ],
  containers: [
    { name: 'app', image: 'i' },
    { name: 'app2', image: 'i' },
  ],
});
const task = (name: string, status: string, exitCode?: number, restartCount = 0): TaskInfo => ({
  id: name,
  name,
  restartCount,
  processConfig: { status, exitCode },
});
const tasks = (...ts: TaskInfo[]): Tasks => new Map(ts.map((t) => [t.name, t]));

describe('init sequence', () => {
  it('each init container waits for the ones before it; the app waits for all', () => {
    const s = spec();
    let t = tasks(task('a', 'created'), task('side', 'created'), task('b', 'created'));
    expect(['a', 'side', 'b', 'app'].map((n) => mayStart(s, n, t))).toEqual([
      true,
      false,
      false,
      false,
    ]);
    t = tasks(task('a', 'exited', 0), task('side', 'created'), task('b', 'created'));
    expect(['side', 'b', 'app'].map((n) => mayStart(s, n, t))).toEqual([true, false, false]);
    // A sidecar only has to have started.
    t = tasks(task('a', 'exited', 0), task('side', 'running'), task('b', 'created'));
    expect(['b', 'app'].map((n) => mayStart(s, n, t))).toEqual([true, false]);
    expect(initProgress(s, t)).toEqual({ initialized: false, incomplete: ['b'], failed: false });
    t = tasks(task('a', 'exited', 0), task('side', 'running'), task('b', 'exited', 0));
    expect(mayStart(s, 'app', t)).toBe(true);
    expect(initProgress(s, t).initialized).toBe(true);
  });

  it('a failed init container holds the rest back; under Never the pod has failed', () => {
    const t = tasks(task('a', 'exited', 2), task('side', 'created'));
    expect(mayStart(spec(), 'side', t)).toBe(false);
    expect(initProgress(spec('OnFailure'), t).failed).toBe(false);
    expect(restartsAfter(spec('OnFailure'), 'a', 2, t)).toBe(true);
    expect(restartsAfter(spec('Always'), 'a', 2, t)).toBe(true);
    expect(initProgress(spec('Never'), t).failed).toBe(true);
    expect(podFinished(spec('Never'), t)).toBe(true);
    expect(restartsAfter(spec('Never'), 'a', 2, t)).toBe(false);
  });

  it('once an app container has run, initialization stays done', () => {
    const t = tasks(task('a', 'exited', 0), task('side', 'exited', 1), task('app', 'running'));
    expect(initProgress(spec(), t)).toEqual({ initialized: true, incomplete: [], failed: false });
    expect(restartsAfter(spec(), 'a', 0, t)).toBe(false);
    expect(restartsAfter(spec('Never'), 'side', 1, t)).toBe(true);
  });

  it('the pod finishes when its app containers are done for good; sidecars do not count', () => {
    const done = tasks(
      task('a', 'exited', 0),
      task('side', 'running'),
      task('b', 'exited', 0),
      task('app', 'exited', 0),
      task('app2', 'exited', 1),
    );
    expect(podFinished(spec('Never'), done)).toBe(true);
    expect(podFinished(spec('OnFailure'), done)).toBe(false);
    expect(podFinished(spec('Always'), done)).toBe(false);
    expect(restartsAfter(spec('Never'), 'side', 143, done)).toBe(false);
  });

  it('stops the app containers first, then the sidecars in reverse order', () => {
    const s = spec();
    s.initContainers!.push({ name: 'side2', image: 'i', restartPolicy: 'Always' });
    expect(stopOrder(s)).toEqual([['a', 'b', 'app', 'app2'], ['side2'], ['side']]);
  });
});
