import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../logging/logger.js';
import { FakeImageStore, FakeIsolationProxy } from '../../../test/support/fake-proxies.js';
import { describeStatus, parsePodManifest, runPod } from './run-pod.js';
import { VicProvider } from './vic-provider.js';

function sink() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (b) => (text += b));
  return { s, text: () => text };
}

function setup() {
  const isolation = new FakeIsolationProxy();
  const images = new FakeImageStore();
  images.addToRegistry('busybox:1');
  const provider = new VicProvider({
    isolation,
    imageStore: images,
    nodeIP: '127.0.0.1',
    log: silentLogger(),
  });
  return { isolation, provider };
}

const manifest = `
apiVersion: v1
kind: Pod
metadata:
  name: job
spec:
  restartPolicy: Never
  containers:
    - name: main
      image: busybox:1
      command: [sh, -c, "echo hi; exit 3"]
`;

describe('parsePodManifest', () => {
  it('reads a YAML pod and fills in namespace and uid', () => {
    const pod = parsePodManifest(manifest, 'job.yaml');
    expect(pod.metadata).toMatchObject({ name: 'job', namespace: 'default' });
    expect(pod.metadata!.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(pod.spec!.containers[0].command).toEqual(['sh', '-c', 'echo hi; exit 3']);
  });

  it('reads JSON too', () => {
    const pod = parsePodManifest(
      '{"kind":"Pod","metadata":{"name":"j","namespace":"x"},"spec":{"containers":[]}}',
      'p.json',
    );
    expect(pod.metadata!.namespace).toBe('x');
  });

  it('answers what is wrong in one line', () => {
    expect(() => parsePodManifest('kind: [', 'a.yaml')).toThrow(/^a\.yaml: not a pod manifest: /);
    expect(() => parsePodManifest('kind: Service\nmetadata: {name: x}', 'a.yaml')).toThrow(
      'a.yaml: want a manifest of kind Pod',
    );
    expect(() => parsePodManifest('kind: Pod\nmetadata: {}', 'a.yaml')).toThrow(
      'a.yaml: the pod needs metadata.name',
    );
    expect(() => parsePodManifest('kind: Pod\n---\nkind: Pod', 'a.yaml')).toThrow(
      /want exactly one pod document, found 2/,
    );
    expect(() => parsePodManifest('', 'a.yaml')).toThrow(/found 0/);
  });
});

describe('runPod', () => {
  it('runs the pod to its end: output, status lines, the exit code, and nothing left', async () => {
    const { isolation, provider } = setup();
    isolation.exitOnStart.set('main', 3);
    isolation.logText.set('main', 'hi\n');
    const out = sink();
    const err = sink();
    const code = await runPod({
      provider,
      pod: parsePodManifest(manifest, 'job.yaml'),
      out: out.s,
      err: err.s,
    });
    expect(code).toBe(3);
    expect(out.text()).toBe('hi\n');
    expect(err.text()).toMatch(/^pod default\/job: Pending \(main: ContainerCreating\)\n/m);
    expect(err.text()).toMatch(/pod default\/job: Failed \(main: exited 3 \(Error\)\)/);
    expect(isolation.containers.size).toBe(0);
    expect(await provider.getPods()).toEqual([]);
    await provider.close();
  });

  it('stops the pod when told to (Ctrl-C)', async () => {
    const { isolation, provider } = setup();
    const pod = parsePodManifest(manifest.replace('Never', 'Always'), 'job.yaml');
    pod.spec!.containers[0].command = ['sleep', '1d'];
    const ac = new AbortController();
    const err = sink();
    const running = runPod({ provider, pod, out: sink().s, err: err.s, signal: ac.signal });
    while (!err.text().includes('Running')) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    expect(await running).toBe(143);
    expect(err.text()).toContain('pod default/job: stopping');
    expect(isolation.containers.size).toBe(0);
    await provider.close();
  });

  it('says where a pod is in one line', () => {
    expect(
      describeStatus({
        phase: 'Pending',
        containerStatuses: [
          {
            name: 'a',
            image: '',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ErrImagePull', message: 'not found' } },
          },
        ],
      }),
    ).toBe('Pending (a: ErrImagePull: not found)');
  });
});
