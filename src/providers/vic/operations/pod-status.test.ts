import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { newVicPod } from '../cache/vic-pod.js';
import type { TaskInfo } from '../proxy/isolation-proxy.js';
import { testPod } from '../../../../test/support/pods.js';
import { podPhase, podStatus } from './pod-status.js';

const running = (name: string, restartCount = 0): TaskInfo => ({
  id: `id-${name}`,
  name,
  imageId: 'sha256:1',
  restartCount,
  processConfig: { status: 'running', startedAt: '2026-01-01T00:00:01.5Z' },
});
const exited = (name: string, exitCode: number, reason?: string): TaskInfo => ({
  id: `id-${name}`,
  name,
  restartCount: 0,
  processConfig: {
    status: 'exited',
    exitCode,
    reason,
    startedAt: '2026-01-01T00:00:01Z',
    finishedAt: '2026-01-01T00:00:09Z',
  },
});

function statusOf(policy: string, tasks: TaskInfo[], names = tasks.map((t) => t.name)) {
  const vp = newVicPod(
    testPod(
      'p',
      names.map((name) => ({ name })),
      { restartPolicy: policy },
    ),
    new Date('2026-01-01T00:00:00Z'),
  );
  vp.stage = 'created';
  vp.id = 'pod-id';
  vp.info = { tasks };
  return { vp, status: podStatus(vp, '10.0.0.1', new Date('2026-01-01T00:01:00Z')) };
}

const states = (s: k8s.V1PodStatus) => s.containerStatuses!.map((c) => c.state);

describe('podStatus', () => {
  it('Running with both containers ready, their ids, start times and restart counts', () => {
    const { status } = statusOf('Always', [running('a'), running('b', 2)]);
    expect(status.phase).toBe('Running');
    expect(status.hostIP).toBe('10.0.0.1');
    expect(status.conditions!.map((c) => [c.type, c.status])).toEqual([
      ['PodScheduled', 'True'],
      ['PodReadyToStartContainers', 'True'],
      ['Initialized', 'True'],
      ['ContainersReady', 'True'],
      ['Ready', 'True'],
    ]);
    const [a, b] = status.containerStatuses!;
    expect(a).toMatchObject({ name: 'a', ready: true, started: true, containerID: 'vic://id-a' });
    expect(a.state!.running!.startedAt).toEqual(new Date('2026-01-01T00:00:01.5Z'));
    expect(b.restartCount).toBe(2);
  });

  it('Failed with the real exit code under Never; Completed/Error reasons', () => {
    const { status } = statusOf('Never', [exited('ok', 0), exited('bad', 3)]);
    expect(status.phase).toBe('Failed');
    expect(states(status)).toEqual([
      {
        terminated: expect.objectContaining({ exitCode: 0, reason: 'Completed' }),
      },
      {
        terminated: expect.objectContaining({
          exitCode: 3,
          reason: 'Error',
          startedAt: new Date('2026-01-01T00:00:01Z'),
          finishedAt: new Date('2026-01-01T00:00:09Z'),
        }),
      },
    ]);
    expect(status.conditions!.find((c) => c.type === 'Ready')!.status).toBe('False');
  });

  it('Succeeded when every container exited 0 (Never, OnFailure); Running under Always', () => {
    expect(statusOf('Never', [exited('a', 0)]).status.phase).toBe('Succeeded');
    expect(statusOf('OnFailure', [exited('a', 0)]).status.phase).toBe('Succeeded');
    expect(statusOf('Always', [exited('a', 0)]).status.phase).toBe('Running');
  });

  it('OOMKilled and a task lost while the VCH was away keep their reasons', () => {
    const { status } = statusOf('Never', [exited('a', 137, 'OOMKilled'), exited('b', 137, 'Lost')]);
    expect(states(status).map((s) => s!.terminated!.reason)).toEqual([
      'OOMKilled',
      'ContainerStatusUnknown',
    ]);
  });

  it('Pending while containers are created or their image is pulled', () => {
    const { vp } = statusOf('Always', [], ['a', 'b']);
    vp.containers.get('b')!.waiting = { reason: 'ErrImagePull', message: 'manifest unknown' };
    const status = podStatus(vp, '10.0.0.1');
    expect(status.phase).toBe('Pending');
    expect(states(status)).toEqual([
      { waiting: { reason: 'ContainerCreating' } },
      { waiting: { reason: 'ErrImagePull', message: 'manifest unknown' } },
    ]);
  });

  it('CrashLoopBackOff: waiting, with the run that ended as its last state; the pod Running', () => {
    const { vp } = statusOf('Always', [exited('a', 1), running('b')]);
    vp.containers.get('a')!.waiting = { reason: 'CrashLoopBackOff', message: 'back-off 10s' };
    const status = podStatus(vp, '10.0.0.1');
    expect(status.phase).toBe('Running');
    const a = status.containerStatuses![0];
    expect(a.state).toEqual({ waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } });
    expect(a.lastState!.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect(a.ready).toBe(false);
  });

  it('a pod being deleted shows its containers terminated, not backing off, and not ready', () => {
    const { vp } = statusOf('Always', [exited('a', 143), running('b')]);
    vp.containers.get('a')!.waiting = { reason: 'CrashLoopBackOff' };
    vp.stage = 'deleting';
    const status = podStatus(vp, '10.0.0.1');
    expect(status.containerStatuses![0].state!.terminated!.exitCode).toBe(143);
    expect(status.containerStatuses![1].ready).toBe(false);
  });

  it('keeps a condition transition time until the condition changes', () => {
    const { vp, status } = statusOf('Always', [running('a')]);
    const t0 = status.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime;
    expect(t0).toEqual(new Date('2026-01-01T00:00:00Z'));
    vp.info = { tasks: [exited('a', 1)] };
    const later = new Date('2026-01-01T00:05:00Z');
    const s2 = podStatus(vp, '10.0.0.1', later);
    expect(s2.conditions!.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      lastTransitionTime: later,
    });
    const s3 = podStatus(vp, '10.0.0.1', new Date('2026-01-01T00:09:00Z'));
    expect(s3.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime).toEqual(later);
  });

  it('the pod IP is its first endpoint address', () => {
    const { vp } = statusOf('Always', [running('a')]);
    vp.info!.endpoints = [
      {
        id: 'e',
        name: 'p',
        scope: 'default',
        address: '172.16.0.5/16',
        gateway: '',
        container: 'x',
        ports: [],
        aliases: [],
        nameservers: [],
      },
    ];
    expect(podStatus(vp, '10.0.0.1')).toMatchObject({
      podIP: '172.16.0.5',
      podIPs: [{ ip: '172.16.0.5' }],
    });
  });

  it("a hostNetwork pod's IP is the node's", () => {
    const { vp } = statusOf('Always', [running('a')]);
    vp.pod.spec!.hostNetwork = true;
    expect(podStatus(vp, '10.0.0.1')).toMatchObject({
      podIP: '10.0.0.1',
      podIPs: [{ ip: '10.0.0.1' }],
    });
  });

  it("lastState from the VCH's record of the previous run when this node did not see it end", () => {
    const task: TaskInfo = {
      ...running('a', 3),
      previousProcessConfig: {
        status: 'exited',
        exitCode: 2,
        startedAt: '2026-01-01T00:00:01Z',
        finishedAt: '2026-01-01T00:00:02Z',
        terminationMessage: 'bad config',
      },
    };
    const { status } = statusOf('Always', [task]);
    expect(status.containerStatuses![0]).toMatchObject({
      restartCount: 3,
      lastState: {
        terminated: {
          exitCode: 2,
          reason: 'Error',
          message: 'bad config',
          startedAt: new Date('2026-01-01T00:00:01Z'),
          finishedAt: new Date('2026-01-01T00:00:02Z'),
          containerID: 'vic://id-a',
        },
      },
    });
    // What this node saw end wins (it is the same run, or a newer one).
    const { vp } = statusOf('Always', [task]);
    vp.containers.get('a')!.lastTermination = {
      exitCode: 7,
      reason: 'Error',
      startedAt: new Date('2026-01-01T00:00:03Z'),
      finishedAt: new Date('2026-01-01T00:00:04Z'),
    };
    expect(podStatus(vp, '10.0.0.1').containerStatuses![0].lastState?.terminated?.exitCode).toBe(7);
  });
});

describe('podPhase', () => {
  const t = (exitCode: number) =>
    ({
      name: 'x',
      image: '',
      imageID: '',
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode } },
    }) as k8s.V1ContainerStatus;
  it('follows the kubelet for OnFailure with a failed container', () => {
    expect(podPhase('OnFailure', [t(0), t(1)])).toBe('Running');
    expect(podPhase('Never', [t(0), t(1)])).toBe('Failed');
    expect(podPhase('Always', [])).toBe('Pending');
  });
});

describe('an evicted pod', () => {
  it('is Failed with reason Evicted and the eviction message, whatever its restartPolicy', () => {
    const { vp } = statusOf('Always', [exited('app', 137)]);
    vp.evicted = { message: 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ' };
    const status = podStatus(vp, '10.0.0.1', new Date('2026-01-01T00:01:00Z'));
    expect(status).toMatchObject({
      phase: 'Failed',
      reason: 'Evicted',
      message: 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ',
    });
  });
});
