// Probes and hooks through the provider, against the portlayer double: the Events, the kill and
// restart of a failed liveness probe, readiness in the pod's conditions, postStart holding
// Running back and killing on failure, preStop before the stop signal.
import type * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../logging/logger.js';
import type { PodEvent } from '../../../node/provider.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../../test/support/fake-proxies.js';
import { eventually, testPod } from '../../../../test/support/pods.js';
import { VicProvider } from '../vic-provider.js';

const providers: VicProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
});

const result = (exitCode: number, out = '') => ({
  exitCode,
  stdout: Buffer.from(out),
  stderr: Buffer.alloc(0),
  timedOut: false,
  stdoutTruncated: false,
  stderrTruncated: false,
});

function setup() {
  const isolation = new FakeIsolationProxy();
  const images = new FakeImageStore();
  images.addToRegistry('busybox:1');
  const provider = new VicProvider({
    isolation,
    imageStore: images,
    nodeIP: '10.0.0.9',
    log: silentLogger(),
    // A cluster DNS, so that pods get no MissingClusterDNS warning among the probes' Events.
    dns: { clusterDns: ['10.96.0.10'], clusterDomain: 'cluster.local', resolvConf: '' },
  });
  providers.push(provider);
  const pushed: k8s.V1Pod[] = [];
  const events: PodEvent[] = [];
  provider.notifyPods((pod) => pushed.push(pod));
  provider.notifyEvents((_pod, e) => events.push(e));
  const last = () => pushed[pushed.length - 1]?.status;
  return { isolation, provider, pushed, events, last };
}

const condition = (s: k8s.V1PodStatus | undefined, type: string) =>
  s?.conditions?.find((c) => c.type === type)?.status;

describe('probes and hooks in the provider', () => {
  it('a failing liveness probe: Unhealthy, then Killing, the stop signal and a restart', async () => {
    const { isolation, provider, events, last } = setup();
    let healthy = true;
    isolation.execs.set('app', () => (healthy ? result(0) : result(1, 'sick')));
    const probe = { exec: { command: ['check'] }, periodSeconds: 1, failureThreshold: 2 };
    await provider.createPod(testPod('live', [{ name: 'app', livenessProbe: probe }]));
    await eventually(() => last()?.phase === 'Running');
    await new Promise((r) => setTimeout(r, 1200));
    // The run's own Events, on the container; none of the probe's yet.
    expect(events.map((e) => [e.reason, e.container])).toEqual([
      ['Pulling', 'app'],
      ['Pulled', 'app'],
      ['Created', 'app'],
      ['Started', 'app'],
    ]);
    healthy = false;
    await eventually(() => last()?.containerStatuses?.[0].restartCount === 1, 5000);
    const probeEvents = events.filter((e) => e.reason === 'Unhealthy' || e.reason === 'Killing');
    expect(probeEvents.slice(0, 3)).toEqual([
      {
        type: 'Warning',
        reason: 'Unhealthy',
        message: 'Liveness probe failed: sick',
        container: 'app',
      },
      {
        type: 'Warning',
        reason: 'Unhealthy',
        message: 'Liveness probe failed: sick',
        container: 'app',
      },
      {
        type: 'Normal',
        reason: 'Killing',
        message: 'Container app failed liveness probe, will be restarted',
        container: 'app',
      },
    ]);
    expect(isolation.calls).toContain('exec app check');
    expect(isolation.calls).toContain('signal 15');
    expect(last()!.containerStatuses![0].lastState?.terminated?.exitCode).toBe(143);
  });

  it('readiness: not ready (and the pod not Ready) until the probe passes', async () => {
    const { isolation, provider, last } = setup();
    let ready = false;
    isolation.execs.set('app', () => result(ready ? 0 : 1));
    const probe = { exec: { command: ['ready'] }, periodSeconds: 1 };
    await provider.createPod(testPod('ready', [{ name: 'app', readinessProbe: probe }]));
    await eventually(() => last()?.phase === 'Running');
    await new Promise((r) => setTimeout(r, 300));
    expect(last()!.containerStatuses![0].ready).toBe(false);
    expect(condition(last(), 'Ready')).toBe('False');
    expect(condition(last(), 'ContainersReady')).toBe('False');
    ready = true;
    await eventually(() => condition(last(), 'Ready') === 'True', 3000);
    expect(last()!.containerStatuses![0].ready).toBe(true);
  });

  it('a startup probe holds started and ready back until it succeeds', async () => {
    const { isolation, provider, last } = setup();
    let up = false;
    isolation.execs.set('app', () => result(up ? 0 : 1));
    const startupProbe = { exec: { command: ['up'] }, periodSeconds: 1, failureThreshold: 30 };
    await provider.createPod(testPod('slow', [{ name: 'app', startupProbe }]));
    await eventually(() => last()?.phase === 'Running');
    await new Promise((r) => setTimeout(r, 300));
    expect(last()!.containerStatuses![0]).toMatchObject({ started: false, ready: false });
    up = true;
    await eventually(() => last()?.containerStatuses?.[0].started === true, 3000);
    expect(last()!.containerStatuses![0].ready).toBe(true);
  });

  it('postStart: not Running until it returns; a failed one is FailedPostStartHook and a kill', async () => {
    const { isolation, provider, events, last, pushed } = setup();
    let release: (v: ReturnType<typeof result>) => void = () => {};
    isolation.execs.set('app', () => new Promise((r) => (release = r)));
    const lifecycle = { postStart: { exec: { command: ['hook'] } } };
    await provider.createPod(testPod('hooked', [{ name: 'app', lifecycle }]));
    await eventually(() => isolation.calls.includes('exec app hook'));
    expect(last()!.containerStatuses![0].state?.waiting?.reason).toBe('ContainerCreating');
    release(result(2, 'hook broke'));
    await eventually(() => events.some((e) => e.reason === 'FailedPostStartHook'));
    expect(events.find((e) => e.reason === 'FailedPostStartHook')!.message).toBe(
      'Exec lifecycle hook ([hook]) for Container "app" in Pod "hooked_default(uid-hooked)" failed - error: command \'hook\' failed, message: "hook broke"',
    );
    expect(events).toContainEqual({
      type: 'Normal',
      reason: 'Killing',
      message: 'FailedPostStartHook',
      container: 'app',
    });
    await eventually(() => last()?.containerStatuses?.[0].restartCount === 1);
    // It never counted as running in its first run.
    const firstRun = pushed.filter((p) => p.status?.containerStatuses?.[0].restartCount === 0);
    expect(firstRun.some((p) => p.status?.containerStatuses?.[0].state?.running)).toBe(false);
    release(result(0));
  });

  it('preStop runs before the stop signal when the pod is deleted', async () => {
    const { isolation, provider, last } = setup();
    const lifecycle = { preStop: { exec: { command: ['goodbye'] } } };
    const pod = testPod('bye', [{ name: 'app', lifecycle }], { terminationGracePeriodSeconds: 5 });
    await provider.createPod(pod);
    await eventually(() => last()?.phase === 'Running');
    await provider.deletePod(pod);
    await eventually(async () => (await provider.getPod('default', 'bye')) === undefined);
    const hook = isolation.calls.indexOf('exec app goodbye');
    expect(hook).toBeGreaterThan(-1);
    expect(isolation.calls.indexOf('signal 15')).toBeGreaterThan(hook);
  });
});
