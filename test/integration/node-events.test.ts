// The kubelet's Events end to end: `vic-kubelet node` with an embedded VCH (runc), a pod
// applied through the real API server that pulls its image, runs an init container, starts,
// crashes and backs off. Its Events are the kubelet's sequence (Pulling, Pulled with duration
// and size, Created, Started, BackOff), each naming its container in involvedObject.fieldPath,
// repeats counted on one Event; `kubectl describe pod` shows them; a deleted pod's running
// container gets Killing; the Node has Starting and NodeReady.
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl } from './cluster.js';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({ prefix: 'events' });
const { cluster, core, namespace, nodeName } = vic;

/** Restarted by default (Always, as the API server defaults it). */
function pod(name: string, spec: Partial<k8s.V1PodSpec>): k8s.V1Pod {
  return podOn(nodeName, namespace, name, { restartPolicy: 'Always', containers: [], ...spec });
}

async function podEvents(name: string): Promise<k8s.CoreV1Event[]> {
  const items = (
    await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })
  ).items.filter((e) => e.source?.component === 'vic-kubelet');
  const t = (e: k8s.CoreV1Event) => new Date(e.firstTimestamp ?? 0).getTime();
  // Same second: the Event written first has the smaller name (client-go's time in hex).
  return items.sort((a, b) => t(a) - t(b) || a.metadata!.name!.localeCompare(b.metadata!.name!));
}

/** A timeout's error, with the pod's Events and the node's last output. */
const failWith = (pod: string) => async (e: Error) => {
  const seen = (await podEvents(pod)).map((v) => [v.reason, v.involvedObject.fieldPath, v.count]);
  throw new Error(`${e.message}\n${JSON.stringify(seen)}\n${vic.node.output().slice(-3000)}`);
};
const fail = failWith('');

describe("the kubelet's Events on vic-kubelet node (runc)", () => {
  it('a pod that pulls, starts, crashes and backs off: the kubelet sequence', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('crash', {
        restartPolicy: 'Always',
        initContainers: [
          {
            name: 'init',
            image: vic.image,
            imagePullPolicy: 'Always',
            command: ['sh', '-c', 'echo init'],
          },
        ],
        containers: [
          {
            name: 'app',
            image: vic.image,
            imagePullPolicy: 'Always',
            command: ['sh', '-c', 'echo up; exit 3'],
          },
        ],
      }),
    });
    const seen = await until(
      'a BackOff Event and three runs of app (the third after a back-off)',
      async () => {
        const evs = await podEvents('crash');
        const started = evs.find(
          (e) => e.reason === 'Started' && e.message === 'Started container app',
        );
        return evs.some((e) => e.reason === 'BackOff') && (started?.count ?? 0) >= 3 && evs;
      },
      90_000,
    ).catch(failWith('crash'));
    const app = 'spec.containers{app}';
    const init = 'spec.initContainers{init}';
    const line = (e: k8s.CoreV1Event) => `${e.involvedObject.fieldPath} ${e.reason}`;
    // First appearances, in order: the init container's run, then app's.
    const order = [...new Set(seen.map(line))];
    const expected = [
      `${init} Pulling`,
      `${init} Pulled`,
      `${init} Created`,
      `${init} Started`,
      `${app} Created`,
      `${app} Started`,
      `${app} BackOff`,
    ];
    expect(
      order.filter((l) => expected.includes(l)),
      JSON.stringify(seen.map((e) => [line(e), e.message])),
    ).toEqual(expected);
    for (const c of ['init', 'app']) {
      const pulled = seen.find(
        (e) => e.reason === 'Pulled' && e.involvedObject.fieldPath?.includes(`{${c}}`),
      )!;
      expect(pulled.message).toMatch(
        new RegExp(
          `^Successfully pulled image "${vic.image.replace(/[.]/g, '\\.')}" in [0-9.]+(µs|ms|s) ` +
            `\\([0-9.]+(µs|ms|s) including waiting\\)\\. Image size: [1-9][0-9]* bytes\\.$`,
        ),
      );
      expect(
        seen.find((e) => e.reason === 'Pulling' && e.involvedObject.fieldPath?.includes(`{${c}}`))
          ?.message,
      ).toBe(`Pulling image "${vic.image}"`);
    }
    const created = seen.filter(
      (e) => e.reason === 'Created' && e.involvedObject.fieldPath === app,
    );
    expect(created).toHaveLength(1); // counted, not repeated
    expect(created[0]).toMatchObject({ type: 'Normal', message: 'Created container: app' });
    expect(created[0].count).toBeGreaterThanOrEqual(3);
    expect(new Date(created[0].lastTimestamp!).getTime()).toBeGreaterThan(
      new Date(created[0].firstTimestamp!).getTime(),
    );
    // The restart's image check, as the kubelet's.
    expect(seen.map((e) => e.message)).toContain(
      `Container image "${vic.image}" already present on machine and can be accessed by the pod`,
    );
    const uid = (await core.readNamespacedPod({ name: 'crash', namespace })).metadata!.uid;
    const backOff = seen.find((e) => e.reason === 'BackOff')!;
    expect(backOff).toMatchObject({
      type: 'Warning',
      message: `Back-off restarting failed container app in pod crash_${namespace}(${uid})`,
      involvedObject: { kind: 'Pod', name: 'crash', namespace, uid, fieldPath: app },
    });
    const describe = await kubectl(cluster, 'describe', 'pod', 'crash', '-n', namespace);
    // kubectl 1.34 prints the message without the fieldPath.
    expect(describe).toMatch(/Normal\s+Pulling\s.*vic-kubelet\s+Pulling image "/);
    expect(describe).toMatch(
      /Normal\s+Created\s+\S+ \(x[3-9]\d* over \S+\)\s+vic-kubelet\s+Created container: app/,
    );
    expect(describe).toMatch(
      /Warning\s+BackOff\s.*vic-kubelet\s+Back-off restarting failed container app in pod crash_/,
    );
  }, 120_000);

  it("a deleted pod's running container: Killing", async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('sleeper', {
        containers: [{ name: 'app', image: vic.image, command: ['sh', '-c', 'sleep 600'] }],
      }),
    });
    await until(
      'sleeper to run',
      async () =>
        (await core.readNamespacedPod({ name: 'sleeper', namespace })).status?.phase === 'Running',
      60_000,
    ).catch(fail);
    await core.deleteNamespacedPod({ name: 'sleeper', namespace });
    const killing = await until(
      'a Killing Event',
      async () => (await podEvents('sleeper')).find((e) => e.reason === 'Killing'),
      30_000,
    ).catch(failWith('sleeper'));
    expect(killing).toMatchObject({
      type: 'Normal',
      message: 'Stopping container app',
      involvedObject: { fieldPath: 'spec.containers{app}' },
    });
  }, 90_000);

  it('the Node: Starting and NodeReady', async () => {
    const evs = await until(
      'the node Events',
      async () => {
        const items = (
          await core.listNamespacedEvent({
            namespace: 'default',
            fieldSelector: `involvedObject.kind=Node,involvedObject.name=${nodeName}`,
          })
        ).items;
        return items.some((e) => e.reason === 'NodeReady') && items;
      },
      30_000,
    ).catch(fail);
    expect(evs.find((e) => e.reason === 'Starting')).toMatchObject({
      type: 'Normal',
      message: 'Starting kubelet.',
      involvedObject: { kind: 'Node', name: nodeName, uid: nodeName },
    });
    expect(evs.find((e) => e.reason === 'NodeReady')?.message).toBe(
      `Node ${nodeName} status is now: NodeReady`,
    );
  }, 60_000);
});
