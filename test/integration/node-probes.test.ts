// Probes, lifecycle hooks and termination messages end to end: `vic-kubelet node` with an
// embedded VCH (runc), pods applied through the API server. An exec liveness probe that starts
// failing restarts the container with the kubelet's Unhealthy and Killing Events and a rising
// restartCount; a readiness probe holds Ready False until it passes; a preStop hook runs (and
// its effect shows in the log) before the stop signal; a postStart hook holds Running back.
// (The test image has /bin/busybox, sh, ls and echo, and no /tmp: commands go through sh, and
// the apps make /tmp first.)
import { spawn } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl } from './cluster.js';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({ prefix: 'probe', vm: true });
const { cluster, core, namespace, nodeName } = vic;

function pod(
  name: string,
  container: Partial<k8s.V1Container>,
  restartPolicy = 'Always',
): k8s.V1Pod {
  return podOn(nodeName, namespace, name, {
    restartPolicy,
    containers: [{ name: 'app', image: vic.image, ...container }],
  });
}

const read = (name: string) => core.readNamespacedPod({ name, namespace });
const sh = (script: string) => ['sh', '-c', script];

async function events(name: string, reason: string): Promise<k8s.CoreV1Event[]> {
  return (
    await core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${name},reason=${reason}`,
    })
  ).items;
}

/**
 * A pod whose preStop hook leaves a file its app prints, and whose app says when TERM came.
 */
function preStopPod(name: string): k8s.V1Pod {
  return pod(name, {
    command: sh(
      'mkdir -p /tmp; trap "echo got-TERM; exit 0" TERM; echo started; ' +
        'while :; do if [ -f /tmp/hook ]; then cat /tmp/hook; rm /tmp/hook; fi; sleep 0.2; done',
    ),
    lifecycle: { preStop: { exec: { command: sh('echo prestop-ran > /tmp/hook; sleep 2') } } },
  });
}

/** Deletes the pod while following its log: the hook's line comes before TERM's. */
async function expectPreStopBeforeTerm(body: k8s.V1Pod, startMs: number): Promise<void> {
  const name = body.metadata!.name!;
  await core.createNamespacedPod({ namespace, body });
  await until(
    'its first line',
    async () =>
      (await kubectl(cluster, 'logs', '-n', namespace, name).catch(() => '')).includes('started'),
    startMs,
  );
  const follow = spawn(
    'kubectl',
    ['--kubeconfig', cluster.kubeconfig, 'logs', '-f', '-n', namespace, name],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  follow.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await until('the log to be followed', async () => out.includes('started'));
  await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 10 });
  await until('got-TERM in the log', async () => out.includes('got-TERM'), 30_000).finally(() =>
    follow.kill(),
  );
  expect(out).toBe('started\nprestop-ran\ngot-TERM\n');
}

describe('probes and lifecycle hooks on vic-kubelet node (runc)', () => {
  it('a failing exec liveness probe: Unhealthy, Killing, a restart, a rising restartCount', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('liveness', {
        command: sh('mkdir -p /tmp; echo ok > /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 600'),
        livenessProbe: {
          exec: { command: sh('cat /tmp/healthy') },
          periodSeconds: 1,
          failureThreshold: 2,
          timeoutSeconds: 5,
        },
      }),
    });
    const restarted = await until(
      'restartCount to reach 2',
      async () => {
        const s = (await read('liveness')).status?.containerStatuses?.[0];
        return (s?.restartCount ?? 0) >= 2 && s;
      },
      120_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${vic.node.output().slice(-3000)}`);
    });
    expect(restarted.lastState?.terminated?.exitCode).toBeGreaterThan(128);
    const unhealthy = await events('liveness', 'Unhealthy');
    expect(unhealthy[0]).toMatchObject({ type: 'Warning', source: { component: 'vic-kubelet' } });
    expect(unhealthy[0].message, JSON.stringify(unhealthy.map((e) => e.message))).toMatch(
      /^Liveness probe failed: cat: can't open '\/tmp\/healthy'/,
    );
    const killing = await events('liveness', 'Killing');
    expect(killing.map((e) => e.message)).toContain(
      'Container app failed liveness probe, will be restarted',
    );
    expect(killing.reduce((n, e) => n + (e.count ?? 1), 0)).toBeGreaterThanOrEqual(2);
  }, 150_000);

  it('a readiness probe holds Ready False until it passes', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('readiness', {
        command: sh('mkdir -p /tmp; sleep 6; echo ok > /tmp/ready; sleep 600'),
        readinessProbe: { exec: { command: sh('cat /tmp/ready') }, periodSeconds: 1 },
      }),
    });
    const running = await until('the pod to run', async () => {
      const p = await read('readiness');
      return p.status?.phase === 'Running' && p;
    });
    const ready = (p: k8s.V1Pod) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    expect(ready(running)).toBe('False');
    expect(running.status?.containerStatuses?.[0].ready).toBe(false);
    const t0 = Date.now();
    await until('Ready', async () => ready(await read('readiness')) === 'True', 60_000).catch(
      async (e: Error) => {
        const seen = (await events('readiness', 'Unhealthy')).map((x) => x.message);
        throw new Error(`${e.message}: ${JSON.stringify(seen)}\n${vic.node.output().slice(-3000)}`);
      },
    );
    // Not before the file exists (6 s after the start), give or take the pod's start.
    expect(Date.now() - t0).toBeGreaterThan(1000);
    const p = await read('readiness');
    expect(p.status?.conditions?.find((c) => c.type === 'ContainersReady')?.status).toBe('True');
    expect(p.status?.containerStatuses?.[0].restartCount).toBe(0);
  }, 120_000);

  it("a readiness gate holds Ready False until its condition is True; others' conditions stay", async () => {
    const body = pod('gated', { command: sh('sleep 600') });
    body.spec!.readinessGates = [{ conditionType: 'example.com/lb-ready' }];
    await core.createNamespacedPod({ namespace, body });
    const condition = (p: k8s.V1Pod, type: string) =>
      p.status?.conditions?.find((c) => c.type === type);
    const held = await until('the pod to run, held unready by its gate', async () => {
      const p = await read('gated');
      return (
        p.status?.phase === 'Running' && condition(p, 'ContainersReady')?.status === 'True' && p
      );
    });
    expect(condition(held, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ReadinessGatesNotReady',
      message:
        'corresponding condition of pod readiness gate "example.com/lb-ready" does not exist.',
    });
    // As a load balancer controller would: the condition through the status subresource.
    const patch = (status: string) =>
      kubectl(
        cluster,
        '-n',
        namespace,
        'patch',
        'pod',
        'gated',
        '--subresource=status',
        '--type=strategic',
        '-p',
        JSON.stringify({ status: { conditions: [{ type: 'example.com/lb-ready', status }] } }),
      );
    await patch('False');
    await until('the gate named False', async () => {
      const c = condition(await read('gated'), 'Ready');
      return c?.message?.endsWith('is not "True", but False');
    });
    await patch('True');
    const ready = await until('Ready', async () => {
      const p = await read('gated');
      return condition(p, 'Ready')?.status === 'True' && p;
    });
    // The node's later status writes keep the controller's condition.
    await new Promise((r) => setTimeout(r, 2000));
    expect(condition(await read('gated'), 'example.com/lb-ready')?.status).toBe('True');
    expect(condition(ready, 'Ready')?.reason).toBeUndefined();
  }, 120_000);

  it("a preStop hook runs before the stop signal: its effect is in the log before the app's TERM", async () => {
    await expectPreStopBeforeTerm(preStopPod('prestop'), 30_000);
  }, 120_000);

  it('a postStart hook runs before the container counts as Running; a failing one restarts it', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('poststart', {
        command: sh('sleep 600'),
        lifecycle: { postStart: { exec: { command: sh('sleep 1; exit 3') } } },
      }),
    });
    const failed = await until(
      'FailedPostStartHook',
      async () => {
        const e = await events('poststart', 'FailedPostStartHook');
        return e.length > 0 && e[0];
      },
      60_000,
    );
    expect(failed.message).toMatch(
      /^Exec lifecycle hook \(\[sh -c sleep 1; exit 3\]\) for Container "app"/,
    );
    await until(
      'a restart',
      async () => ((await read('poststart')).status?.containerStatuses?.[0].restartCount ?? 0) >= 1,
      60_000,
    );
    const s = (await read('poststart')).status?.containerStatuses?.[0];
    // It never counted as running: each run ended while its hook was failing.
    expect(s?.state?.running).toBeUndefined();
  }, 120_000);
});

describe('termination messages on vic-kubelet node (runc)', () => {
  const terminated = async (name: string) =>
    until(
      `${name} to end`,
      async () => {
        const t = (await read(name)).status?.containerStatuses?.[0]?.state?.terminated;
        return t ?? false;
      },
      90_000,
    );

  it('what the container wrote to /dev/termination-log is state.terminated.message', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod(
        'message',
        { command: sh('echo -n "bye from app" > /dev/termination-log; exit 3') },
        'Never',
      ),
    });
    expect(await terminated('message')).toMatchObject({
      exitCode: 3,
      reason: 'Error',
      message: 'bye from app',
    });
  }, 120_000);

  it('a terminationMessagePath of its own; at most 4 KiB of it', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod(
        'message-path',
        {
          command: sh(
            'mkdir -p /tmp; i=0; while [ $i -lt 600 ]; do echo -n "0123456789"; i=$((i+1)); done > /var/msg',
          ),
          terminationMessagePath: '/var/msg',
        },
        'Never',
      ),
    });
    const t = await terminated('message-path');
    expect(t.exitCode).toBe(0);
    expect(t.message).toBe('0123456789'.repeat(600).slice(0, 4096));
  }, 120_000);

  it('FallbackToLogsOnError: the end of the log when a failed run left no message', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod(
        'fallback',
        {
          command: sh('echo first; echo "last words" >&2; exit 2'),
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
        'Never',
      ),
    });
    const t = await terminated('fallback');
    expect(t).toMatchObject({ exitCode: 2, message: 'first\nlast words\n' });
  }, 120_000);
});

describe('probes and termination messages in a pod VM (vm)', () => {
  it('readiness holds Ready False until it passes; the termination message reaches the status', async () => {
    const body = pod(
      'vm-probed',
      {
        command: sh(
          'mkdir -p /tmp; sleep 4; echo ok > /tmp/ready; sleep 4; echo -n vm-bye > /dev/termination-log; exit 4',
        ),
        readinessProbe: {
          exec: { command: sh('cat /tmp/ready') },
          periodSeconds: 1,
          timeoutSeconds: 10,
        },
      },
      'Never',
    );
    body.metadata!.annotations = { 'vic-kubelet.io/runtime': 'vm' };
    await core.createNamespacedPod({ namespace, body });
    const ready = (p: k8s.V1Pod) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    const running = await until(
      'the VM pod to run',
      async () => {
        const p = await read('vm-probed');
        return p.status?.phase === 'Running' && p;
      },
      120_000,
    );
    expect(ready(running)).toBe('False');
    await until('Ready', async () => ready(await read('vm-probed')) === 'True', 60_000);
    const t = await until(
      'the VM pod to end',
      async () =>
        (await read('vm-probed')).status?.containerStatuses?.[0]?.state?.terminated ?? false,
      60_000,
    );
    expect(t).toMatchObject({ exitCode: 4, message: 'vm-bye' });
  }, 240_000);

  const vmPod = (name: string, container: Partial<k8s.V1Container>): k8s.V1Pod => {
    const body = pod(name, container);
    body.metadata!.annotations = { 'vic-kubelet.io/runtime': 'vm' };
    return body;
  };

  it('a failing exec liveness probe restarts the container: Unhealthy, Killing, restartCount', async () => {
    await core.createNamespacedPod({
      namespace,
      body: vmPod('vm-liveness', {
        command: sh('mkdir -p /tmp; echo ok > /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 600'),
        livenessProbe: {
          exec: { command: sh('cat /tmp/healthy') },
          periodSeconds: 1,
          failureThreshold: 2,
          timeoutSeconds: 10,
        },
      }),
    });
    const restarted = await until(
      'restartCount to reach 1',
      async () => {
        const s = (await read('vm-liveness')).status?.containerStatuses?.[0];
        return (s?.restartCount ?? 0) >= 1 && s;
      },
      180_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${vic.node.output().slice(-3000)}`);
    });
    expect(restarted.lastState?.terminated?.exitCode).toBeGreaterThan(128);
    expect((await events('vm-liveness', 'Unhealthy'))[0]?.message).toMatch(
      /^Liveness probe failed/,
    );
    expect((await events('vm-liveness', 'Killing')).map((e) => e.message)).toContain(
      'Container app failed liveness probe, will be restarted',
    );
    await core.deleteNamespacedPod({ name: 'vm-liveness', namespace, gracePeriodSeconds: 0 });
  }, 240_000);

  it("a preStop hook's effect is in the log before the app's TERM", async () => {
    const body = preStopPod('vm-prestop');
    body.metadata!.annotations = { 'vic-kubelet.io/runtime': 'vm' };
    await expectPreStopBeforeTerm(body, 180_000);
  }, 240_000);
});
