import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { testPod } from '../../../../test/support/pods.js';
import type { ImageConfig } from '../proxy/image-store.js';
import { containerEnv, gatherEnvInputs, type NodeFacts } from './container-env.js';
import { memoizedSources, type EnvSources } from './env-sources.js';
import { ContainerConfigError } from './errors.js';

const image: ImageConfig = {
  id: 'sha256:1',
  name: 'img',
  entrypoint: ['/entry'],
  cmd: [],
  env: ['PATH=/usr/bin:/bin', 'FROM_IMAGE=1'],
  workingDir: '',
  user: '',
};

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** An API server in a map: objects by namespace/name, and every read it was asked. */
function fakeSources(o: {
  configMaps?: Record<string, Record<string, string>>;
  secrets?: Record<string, Record<string, string>>;
  services?: k8s.V1Service[];
  fail?: string;
}): EnvSources & { reads: string[] } {
  const reads: string[] = [];
  const api = (what: string) => {
    reads.push(what);
    if (o.fail && what.startsWith(o.fail)) return Promise.reject(new Error('connection refused'));
    return Promise.resolve();
  };
  return {
    reads,
    configMap: async (ns, name) => {
      await api(`cm ${ns}/${name}`);
      const data = o.configMaps?.[`${ns}/${name}`];
      return data && { metadata: { name, namespace: ns }, data };
    },
    secret: async (ns, name) => {
      await api(`secret ${ns}/${name}`);
      const data = o.secrets?.[`${ns}/${name}`];
      return (
        data && {
          metadata: { name, namespace: ns },
          data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
        }
      );
    },
    services: async (ns) => {
      await api(`services ${ns}`);
      return (o.services ?? []).filter((s) => s.metadata!.namespace === ns);
    },
    service: async (ns, name) => {
      await api(`service ${ns}/${name}`);
      return o.services?.find((s) => s.metadata!.namespace === ns && s.metadata!.name === name);
    },
  };
}

const svc = (
  namespace: string,
  name: string,
  clusterIP: string,
  ports: k8s.V1ServicePort[],
): k8s.V1Service => ({ metadata: { namespace, name }, spec: { clusterIP, ports } });

const KUBERNETES = svc('default', 'kubernetes', '10.96.0.1', [
  { name: 'https', port: 443, protocol: 'TCP' },
]);
const NODE: NodeFacts = {
  allocatable: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi' },
  hostIPs: ['10.0.0.9'],
};

/** The environment of the pod's first container as a map, with the Events it raised. */
async function envOf(pod: k8s.V1Pod, sources: EnvSources | undefined, podIPs: string[] = []) {
  const inputs = await gatherEnvInputs(pod, sources, NODE, podIPs);
  const r = containerEnv(pod, pod.spec!.containers[0], image, inputs);
  const map = new Map(r.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  return { ...r, map };
}

const inNs = (pod: k8s.V1Pod, ns = 'app') => {
  pod.metadata!.namespace = ns;
  return pod;
};

describe('containerEnv', () => {
  it('takes valueFrom configMapKeyRef and secretKeyRef, and envFrom with prefix; env wins', async () => {
    const sources = fakeSources({
      configMaps: { 'app/cfg': { MODE: 'cm', COLOR: 'blue' } },
      secrets: { 'app/creds': { user: 'admin', password: 'p@ss word' } },
    });
    const pod = inNs(
      testPod('p', [
        {
          name: 'c',
          envFrom: [
            { configMapRef: { name: 'cfg' } },
            { secretRef: { name: 'creds' }, prefix: 'DB_' },
          ],
          env: [
            { name: 'MODE', value: 'env' },
            { name: 'PASS', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
            { name: 'PAINT', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'COLOR' } } },
          ],
        },
      ]),
    );
    const { map, vars, events } = await envOf(pod, memoizedSources(sources));
    expect(Object.fromEntries(vars)).toEqual({
      COLOR: 'blue',
      DB_user: 'admin',
      DB_password: 'p@ss word',
      MODE: 'env',
      PASS: 'p@ss word',
      PAINT: 'blue',
    });
    // Under the image's env, which it does not hide.
    expect(map.get('FROM_IMAGE')).toBe('1');
    expect(map.get('PATH')).toBe('/usr/bin:/bin');
    expect(events).toEqual([]);
    // Each object read once, by name; the kubernetes Service by name, the namespace's listed.
    expect(sources.reads.sort()).toEqual([
      'cm app/cfg',
      'secret app/creds',
      'service default/kubernetes',
      'services app',
    ]);
  });

  it('expands $(VAR) over envFrom, valueFrom and Service variables; $$ escapes', async () => {
    const sources = fakeSources({
      configMaps: { 'app/cfg': { HOST: 'db.local' } },
      secrets: { 'app/s': { port: '5432' } },
      services: [KUBERNETES],
    });
    const pod = inNs(
      testPod('p', [
        {
          name: 'c',
          command: ['echo', '$(URL)', '$(KUBERNETES_SERVICE_HOST)', '$$(URL)', '$(FROM_IMAGE)'],
          envFrom: [{ configMapRef: { name: 'cfg' } }],
          env: [
            { name: 'PORT', valueFrom: { secretKeyRef: { name: 's', key: 'port' } } },
            { name: 'URL', value: 'pg://$(HOST):$(PORT)/$(LATER)' },
            { name: 'API', value: 'https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)' },
            { name: 'LATER', value: 'x' },
          ],
        },
      ]),
    );
    const { vars } = await envOf(pod, sources);
    expect(vars.get('URL')).toBe('pg://db.local:5432/$(LATER)');
    expect(vars.get('API')).toBe('https://10.96.0.1:443');
    const { taskConfig } = await import('./container-config.js');
    const inputs = await gatherEnvInputs(pod, sources, NODE, []);
    const c = pod.spec!.containers[0];
    const t = taskConfig(pod, c, image, containerEnv(pod, c, image, inputs));
    // The image's variables are not the container's: $(FROM_IMAGE) stays as written.
    expect(t.args).toEqual(['pg://db.local:5432/$(LATER)', '10.96.0.1', '$(URL)', '$(FROM_IMAGE)']);
  });

  it('optional: a missing object or key is skipped; a mandatory one is a ContainerConfigError', async () => {
    const sources = fakeSources({ configMaps: { 'app/cfg': { A: '1' } } });
    const optional = inNs(
      testPod('p', [
        {
          name: 'c',
          envFrom: [
            { configMapRef: { name: 'gone', optional: true } },
            { secretRef: { name: 'gone', optional: true } },
          ],
          env: [
            {
              name: 'X',
              valueFrom: { configMapKeyRef: { name: 'cfg', key: 'nope', optional: true } },
            },
            { name: 'Y', valueFrom: { secretKeyRef: { name: 'gone', key: 'k', optional: true } } },
            { name: 'Z', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'A' } } },
          ],
        },
      ]),
    );
    expect(Object.fromEntries((await envOf(optional, sources)).vars)).toEqual({ Z: '1' });

    const cases: [k8s.V1Container, RegExp][] = [
      [
        { name: 'c', envFrom: [{ configMapRef: { name: 'gone' } }] },
        /^configmap "gone" not found$/,
      ],
      [{ name: 'c', envFrom: [{ secretRef: { name: 'gone' } }] }, /^secret "gone" not found$/],
      [
        {
          name: 'c',
          env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'no' } } }],
        },
        /^couldn't find key no in ConfigMap app\/cfg$/,
      ],
      [
        {
          name: 'c',
          env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }],
        },
        /^secret "gone" not found$/,
      ],
    ];
    for (const [c, message] of cases) {
      const pod = inNs(testPod('p', [c]));
      const err = await envOf(pod, sources).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ContainerConfigError);
      expect((err as ContainerConfigError).message).toMatch(message);
      expect((err as ContainerConfigError).container).toBe('c');
      expect((err as ContainerConfigError).kind).toBe('NotFound');
    }
  });

  it('an API server that cannot be read, or none at all, is a ContainerConfigError too', async () => {
    const pod = inNs(testPod('p', [{ name: 'c', envFrom: [{ configMapRef: { name: 'cfg' } }] }]));
    await expect(envOf(pod, fakeSources({ fail: 'cm' }))).rejects.toThrow(
      /^couldn't get configMap app\/cfg: connection refused$/,
    );
    await expect(envOf(pod, fakeSources({ fail: 'services' }))).rejects.toThrow(
      /^failed to list services when setting up env vars: connection refused$/,
    );
    await expect(envOf(pod, undefined)).rejects.toThrow(
      /^couldn't get configMap app\/cfg, no kubeClient defined$/,
    );
    // Without an API server a pod that references nothing still runs, with no Service variables.
    const plain = inNs(testPod('p', [{ name: 'c', env: [{ name: 'A', value: 'a' }] }]));
    expect(Object.fromEntries((await envOf(plain, undefined)).vars)).toEqual({ A: 'a' });
  });

  it('skips envFrom keys that cannot be variables with the kubelet Event; keeps the rest', async () => {
    // v1.34 accepts any printable name but "="; the API server lets no other key through, so
    // the object here is one no validation saw.
    const sources = fakeSources({
      configMaps: { 'app/cfg': { '1ST': 'ok', 'a.b-c': 'ok', 'BAD=KEY': 'x', 'TAB\tKEY': 'x' } },
    });
    const pod = inNs(testPod('p', [{ name: 'c', envFrom: [{ configMapRef: { name: 'cfg' } }] }]));
    const { vars, events } = await envOf(pod, sources);
    expect([...vars.keys()]).toEqual(['1ST', 'a.b-c']);
    expect(events).toEqual([
      {
        type: 'Warning',
        reason: 'InvalidEnvironmentVariableNames',
        message:
          'Keys [BAD=KEY, TAB\tKEY] from the EnvFrom configMap app/cfg were skipped since they are considered invalid environment variable names.',
      },
    ]);
  });

  it('fieldRef: metadata, spec, and the pod and host IPs it is reported with', async () => {
    const pod = inNs(
      testPod(
        'p',
        [
          {
            name: 'c',
            env: [
              'metadata.name',
              'metadata.namespace',
              'metadata.uid',
              "metadata.labels['app']",
              "metadata.annotations['note']",
              'spec.nodeName',
              'spec.serviceAccountName',
              'status.hostIP',
              'status.hostIPs',
              'status.podIP',
              'status.podIPs',
            ].map((fieldPath, i) => ({ name: `F${i}`, valueFrom: { fieldRef: { fieldPath } } })),
          },
        ],
        { nodeName: 'vk', serviceAccountName: 'sa' },
      ),
    );
    pod.metadata!.labels = { app: 'web' };
    pod.metadata!.annotations = { note: 'hi' };
    const { vars } = await envOf(pod, undefined, ['10.1.0.5']);
    expect([...vars.values()]).toEqual([
      'p',
      'app',
      'uid-p',
      'web',
      'hi',
      'vk',
      'sa',
      '10.0.0.9',
      '10.0.0.9',
      '10.1.0.5',
      '10.1.0.5',
    ]);
    // No pod IP to report (no network yet): empty, as the status shows none.
    expect((await envOf(pod, undefined, [])).vars.get('F9')).toBe('');
  });

  it('resourceFieldRef: rounds up over the divisor; a limit not set is the node allocatable', async () => {
    const ref = (resource: string, divisor?: string, containerName?: string) => ({
      resourceFieldRef: { resource, divisor, containerName },
    });
    const pod = testPod('p', [
      {
        name: 'c',
        resources: { limits: { cpu: '250m', memory: '100Mi' }, requests: { cpu: '100m' } },
        env: [
          { name: 'CPU', valueFrom: ref('limits.cpu') },
          { name: 'CPU_M', valueFrom: ref('limits.cpu', '1m') },
          { name: 'REQ_CPU_M', valueFrom: ref('requests.cpu', '1m') },
          { name: 'MEM', valueFrom: ref('limits.memory') },
          { name: 'MEM_MI', valueFrom: ref('limits.memory', '1Mi') },
          { name: 'MEM_GI', valueFrom: ref('limits.memory', '1Gi') },
          { name: 'REQ_MEM', valueFrom: ref('requests.memory') },
          { name: 'EPH_GI', valueFrom: ref('limits.ephemeral-storage', '1Gi') },
          { name: 'OTHER_CPU_M', valueFrom: ref('limits.cpu', '1m', 'other') },
          { name: 'TENTH', valueFrom: ref('requests.cpu', '100m') },
        ],
      },
      { name: 'other', resources: { limits: { memory: '1Gi' } } },
    ]);
    const { vars } = await envOf(pod, undefined);
    expect(Object.fromEntries(vars)).toEqual({
      CPU: '1',
      CPU_M: '250',
      REQ_CPU_M: '100',
      MEM: String(100 * 2 ** 20),
      MEM_MI: '100',
      MEM_GI: '1',
      REQ_MEM: '0',
      EPH_GI: '100',
      OTHER_CPU_M: '4000',
      TENTH: '1',
    });
    const bad = testPod('p', [{ name: 'c', env: [{ name: 'X', valueFrom: ref('limits.gpu') }] }]);
    await expect(envOf(bad, undefined)).rejects.toThrow(
      /unsupported container resource : limits.gpu/,
    );
  });
});
