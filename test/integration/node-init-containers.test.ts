// Init containers, native sidecars and activeDeadlineSeconds end to end: `vic-kubelet node`
// with a node's own credentials and an embedded VCH (runc by default; one pod asks for a pod VM
// with the annotation vic-kubelet.io/runtime: vm). The pods have no shared volume, so the order
// is shown by what each container recorded and when: an init container that fails twice (it
// counts its attempts in its own root filesystem, which a restart keeps) is retried with
// back-off, kubectl shows Init:CrashLoopBackOff meanwhile, and the app container starts only
// after its third run succeeded; a sidecar starts before the app, runs beside it, and gets its
// stop signal only once the app has ended; a pod past its deadline fails with DeadlineExceeded.
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl } from './cluster.js';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({
  prefix: 'init',
  vm: true,
  /** The same busybox under a second tag: an update to it is an image change. */
  tags: ['busybox:2'],
  extra: ['--runtime', 'runc'],
  podsGoneTimeout: 60_000,
});
const { cluster, core, namespace, nodeName } = vic;

/** Restarted by default (Always, as the API server defaults it). */
function pod(
  name: string,
  spec: Partial<k8s.V1PodSpec>,
  annotations?: Record<string, string>,
): k8s.V1Pod {
  const p = podOn(nodeName, namespace, name, {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 5,
    containers: [],
    ...spec,
  });
  if (annotations) p.metadata!.annotations = annotations;
  return p;
}

const read = (name: string) => core.readNamespacedPod({ name, namespace });
const logs = (name: string, container: string, ...flags: string[]) =>
  kubectl(cluster, 'logs', '-n', namespace, name, '-c', container, ...flags);
/** Unix ns of an RFC 3339 timestamp with up to nine fractional digits. */
function nanos(ts: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(ts);
  if (!m) throw new Error(`not a timestamp: ${ts}`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
/**
 * When a container wrote `what` (a whole line), in ns: the log's own timestamp, which the
 * container's tether stamps as the line is written (a busybox date has no %N).
 */
async function loggedAt(pod: string, container: string, what: string): Promise<bigint> {
  const out = await kubectl(cluster, 'logs', '-n', namespace, pod, '-c', container, '--timestamps');
  const line = out.split('\n').find((l) => l.slice(l.indexOf(' ') + 1) === what);
  if (!line) throw new Error(`${pod}/${container} did not log ${JSON.stringify(what)}:\n${out}`);
  return nanos(line.slice(0, line.indexOf(' ')));
}
/** kubectl's STATUS column for the pod (Init:N/M, Init:CrashLoopBackOff, Completed, …). */
async function kubectlStatus(name: string): Promise<string> {
  const out = await kubectl(cluster, 'get', 'pod', '-n', namespace, name, '--no-headers');
  return out.trim().split(/\s+/)[2];
}
const finished = (s: k8s.V1ContainerStatus | undefined) => s?.state?.terminated?.finishedAt;
const started = (s: k8s.V1ContainerStatus | undefined) =>
  s?.state?.running?.startedAt ?? s?.state?.terminated?.startedAt;
const ms = (d: Date | string | undefined) => new Date(d!).getTime();

/** Logs a line saying what happened; its log timestamp says when (loggedAt). */
const stamp = (what: string) => `echo "${what}"`;
// A sidecar that says when it started, ticks, and says when its stop signal came.
const sidecarScript = `trap '${stamp('sidecar stopping')}; exit 0' TERM; ${stamp('sidecar up')}; while :; do sleep 0.2; done`;

describe('init containers', () => {
  it('a failing init container is retried (restartCount 2) before the app starts; kubectl shows Init:', async () => {
    // Attempt n is counted in the container's own rootfs; the first two fail.
    const attempt = `n=$(cat /attempts 2>/dev/null || echo 0); n=$((n+1)); echo $n > /attempts; ${stamp('attempt $n')}; [ $n -ge 3 ]`;
    await core.createNamespacedPod({
      namespace,
      body: pod('ordered', {
        restartPolicy: 'OnFailure',
        initContainers: [
          { name: 'flaky', image: vic.image, command: ['sh', '-c', attempt] },
          {
            name: 'second',
            image: vic.image,
            command: ['sh', '-c', `${stamp('second')}; sleep 1`],
          },
        ],
        containers: [{ name: 'app', image: vic.image, command: ['sh', '-c', stamp('app')] }],
      }),
    });
    // The second failure waits out a 10 s back-off: kubectl shows it on the init container.
    const seen = new Set<string>();
    await until(
      'kubectl to show Init:CrashLoopBackOff',
      async () => {
        const s = await kubectlStatus('ordered');
        seen.add(s);
        return s === 'Init:CrashLoopBackOff';
      },
      60_000,
    );
    const during = await read('ordered');
    expect(during.status!.phase).toBe('Pending');
    expect(during.status!.containerStatuses![0].state!.waiting!.reason).toBe('PodInitializing');
    expect(during.status!.conditions!.find((c) => c.type === 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
    });
    await until(
      'ordered to succeed',
      async () => {
        seen.add(await kubectlStatus('ordered').catch(() => ''));
        return (await read('ordered')).status?.phase === 'Succeeded';
      },
      90_000,
    );
    const done = (await read('ordered')).status!;
    const [flaky, second] = done.initContainerStatuses!;
    expect(flaky).toMatchObject({ restartCount: 2, ready: true });
    expect(flaky.state!.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(second.state!.terminated).toMatchObject({ exitCode: 0 });
    const app = done.containerStatuses![0];
    expect(app.state!.terminated).toMatchObject({ exitCode: 0 });
    // Each started after the one before it had finished.
    expect(ms(started(second))).toBeGreaterThanOrEqual(ms(finished(flaky)));
    expect(ms(started(app))).toBeGreaterThanOrEqual(ms(finished(second)));
    expect(done.conditions!.find((c) => c.type === 'Initialized')!.status).toBe('True');
    // In the containers' own words: three attempts, then the second init, then the app.
    // (kubectl logs shows the last run; --previous the one before it.)
    expect(await logs('ordered', 'flaky')).toBe('attempt 3\n');
    expect(await logs('ordered', 'flaky', '--previous')).toBe('attempt 2\n');
    const thirdAt = await loggedAt('ordered', 'flaky', 'attempt 3');
    const secondAt = await loggedAt('ordered', 'second', 'second');
    const appAt = await loggedAt('ordered', 'app', 'app');
    expect(secondAt).toBeGreaterThan(thirdAt);
    expect(appAt).toBeGreaterThan(secondAt + 900_000_000n); // after second's 1 s sleep
    expect(seen.has('Init:CrashLoopBackOff')).toBe(true);
    expect([...seen].some((s) => /^Init:[01]\/2$/.test(s)) || seen.has('Completed')).toBe(true);
  }, 150_000);
});

describe('native sidecars', () => {
  it('runc: a sidecar starts before the app, runs beside it, and stops after it', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('sidecar', {
        restartPolicy: 'Never',
        initContainers: [
          {
            name: 'proxy',
            image: vic.image,
            restartPolicy: 'Always',
            command: ['sh', '-c', sidecarScript],
          },
        ],
        containers: [
          {
            name: 'app',
            image: vic.image,
            command: ['sh', '-c', `${stamp('app')}; sleep 3; ${stamp('app done')}`],
          },
        ],
      }),
    });
    const running = await until(
      'sidecar and app running, the pod Ready',
      async () => {
        const p = await read('sidecar');
        return (
          p.status?.containerStatuses?.[0].state?.running &&
          p.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True' &&
          p
        );
      },
      60_000,
    );
    expect(running.status!.phase).toBe('Running');
    expect(running.status!.initContainerStatuses![0]).toMatchObject({
      name: 'proxy',
      started: true,
      ready: true,
      state: { running: {} },
    });
    expect(await kubectlStatus('sidecar')).toBe('Running');
    await until(
      'sidecar to succeed',
      async () => (await read('sidecar')).status?.phase === 'Succeeded',
      60_000,
    );
    const s = (await read('sidecar')).status!;
    const proxy = s.initContainerStatuses![0];
    const app = s.containerStatuses![0];
    expect(app.state!.terminated).toMatchObject({ exitCode: 0 });
    // Stopped by its stop signal (its trap exits 0), after the app had ended; not restarted.
    expect(proxy.state!.terminated).toMatchObject({ exitCode: 0 });
    expect(proxy.restartCount).toBe(0);
    expect(ms(finished(proxy))).toBeGreaterThanOrEqual(ms(finished(app)));
    const at = (c: string, what: string) => loggedAt('sidecar', c, what);
    expect(await at('proxy', 'sidecar up')).toBeLessThan(await at('app', 'app'));
    expect(await at('proxy', 'sidecar stopping')).toBeGreaterThan(await at('app', 'app done'));
  }, 120_000);

  it('vm: init container, sidecar and app in one pod VM, in order; the sidecar stops after the app', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod(
        'vmpod',
        {
          restartPolicy: 'Never',
          initContainers: [
            {
              name: 'setup',
              image: vic.image,
              command: ['sh', '-c', `${stamp('setup')}; echo from-setup > /work/ready; sleep 1`],
              volumeMounts: [{ name: 'work', mountPath: '/work' }],
            },
            {
              name: 'proxy',
              image: vic.image,
              restartPolicy: 'Always',
              command: ['sh', '-c', sidecarScript],
            },
          ],
          containers: [
            {
              name: 'app',
              image: vic.image,
              command: [
                'sh',
                '-c',
                `${stamp('app')}; echo "app read $(cat /work/ready)"; sleep 2; ${stamp('app done')}`,
              ],
              volumeMounts: [{ name: 'work', mountPath: '/work' }],
            },
          ],
          volumes: [{ name: 'work', emptyDir: {} }],
        },
        { 'vic-kubelet.io/runtime': 'vm' },
      ),
    });
    await until(
      'vmpod to succeed',
      async () => (await read('vmpod')).status?.phase === 'Succeeded',
      200_000,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${JSON.stringify((await read('vmpod')).status)}`);
    });
    const at = (c: string, what: string) => loggedAt('vmpod', c, what);
    expect(await at('proxy', 'sidecar up')).toBeGreaterThan(
      (await at('setup', 'setup')) + 900_000_000n,
    );
    expect(await at('app', 'app')).toBeGreaterThan(await at('proxy', 'sidecar up'));
    expect(await at('proxy', 'sidecar stopping')).toBeGreaterThan(await at('app', 'app done'));
    const s = (await read('vmpod')).status!;
    expect(s.initContainerStatuses!.map((c) => c.state?.terminated?.exitCode)).toEqual([0, 0]);
    expect(s.containerStatuses![0].state!.terminated!.exitCode).toBe(0);
    // What the init container wrote, the app read (an emptyDir of the pod's).
    expect(await logs('vmpod', 'app')).toContain('app read from-setup');
  }, 240_000);

  it('runc: an init container writes a file (in an emptyDir) that the app reads', async () => {
    const work = [{ name: 'work', mountPath: '/work' }];
    await core.createNamespacedPod({
      namespace,
      body: pod('handoff', {
        restartPolicy: 'Never',
        initContainers: [
          {
            name: 'writer',
            image: vic.image,
            command: ['sh', '-c', 'echo written-by-init > /work/config'],
            volumeMounts: work,
          },
        ],
        containers: [
          {
            name: 'app',
            image: vic.image,
            command: ['sh', '-c', 'cat /work/config'],
            volumeMounts: work,
          },
        ],
        volumes: [{ name: 'work', emptyDir: {} }],
      }),
    });
    await until(
      'handoff to succeed',
      async () => (await read('handoff')).status?.phase === 'Succeeded',
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${JSON.stringify((await read('handoff')).status)}`);
    });
    expect(await logs('handoff', 'app')).toBe('written-by-init\n');
  }, 120_000);
});

describe('activeDeadlineSeconds', () => {
  it('a pod past its deadline fails with DeadlineExceeded and its container is stopped', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('late', {
        activeDeadlineSeconds: 5,
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'app', image: vic.image, command: ['sleep', '3600'] }],
      }),
    });
    const t0 = Date.now();
    await until(
      'late to fail',
      async () => (await read('late')).status?.phase === 'Failed',
      60_000,
    );
    const s = (await read('late')).status!;
    expect(s).toMatchObject({
      reason: 'DeadlineExceeded',
      message: 'Pod was active on the node longer than the specified deadline',
    });
    expect(Date.now() - t0).toBeGreaterThan(3000);
    await until(
      'the container stopped',
      async () => (await read('late')).status?.containerStatuses?.[0].state?.terminated,
      30_000,
    );
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=late',
    });
    expect(events.items.map((e) => e.reason)).toContain('DeadlineExceeded');
  }, 90_000);
});

describe('a changed image on a pod update', () => {
  it('recreates that container from the new image; the other container runs on', async () => {
    const loop = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done'];
    await core.createNamespacedPod({
      namespace,
      body: pod('upd', {
        terminationGracePeriodSeconds: 2,
        containers: [
          { name: 'app', image: vic.image, command: loop },
          { name: 'other', image: vic.image, command: loop },
        ],
      }),
    });
    const before = await until(
      'upd running',
      async () => {
        const p = await read('upd');
        return p.status?.containerStatuses?.every((c) => c.state?.running) && p;
      },
      60_000,
    );
    const [app0, other0] = before.status!.containerStatuses!;
    await kubectl(
      cluster,
      'set',
      'image',
      '-n',
      namespace,
      'pod/upd',
      `app=${vic.ref('busybox:2')}`,
    );
    const after = await until(
      'app recreated from the new image',
      async () => {
        const p = await read('upd');
        const app = p.status?.containerStatuses?.[0];
        return app?.image === vic.ref('busybox:2') && app.state?.running && p;
      },
      60_000,
    );
    const [app, other] = after.status!.containerStatuses!;
    expect(app.containerID).not.toBe(app0.containerID);
    expect(app).toMatchObject({ restartCount: 1, lastState: { terminated: { exitCode: 0 } } });
    expect(other).toMatchObject({ containerID: other0.containerID, restartCount: 0 });
    expect(other.state!.running!.startedAt).toEqual(other0.state!.running!.startedAt);
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=upd',
    });
    expect(events.items.map((e) => `${e.reason}: ${e.message}`)).toContain(
      'Killing: Container app definition changed, will be restarted',
    );
  }, 120_000);
});
