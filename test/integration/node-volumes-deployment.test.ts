// Issue 12's "Done when", as a chart would run it: on the real control plane, a Deployment of 3
// replicas on this node, on runc and in pod VMs, whose pods run as their own ServiceAccount,
// mount a ConfigMap, a Secret and an emptyDir, take env from both, and print their projected
// token, CA and namespace. Each token passes a TokenReview naming the pod's ServiceAccount and
// bound to that pod's uid. Then the ConfigMap is edited while every pod reads its two keys over
// and over as the kubelet's atomic writer lets a reader do it (through ..data, resolved once per
// read): the edit reaches every running pod within 60 s, and no read ever sees one key old and
// the other new, nor an old set after a new one.
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl } from './cluster.js';
import { kubeConfigOf, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({ prefix: 'voldep', vm: true, teardownTimeout: 180_000 });
const { cluster, kc, core, namespace, nodeName } = vic;
const apps = kc.makeApiClient(k8s.AppsV1Api);

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const REPLICAS = 3;

// Each read: cd into the version ..data names (one resolution), then both keys from it. A read
// that loses a race with the old version's removal prints nothing: a failed read, not a mix.
const script = [
  'echo "env=$GREETING/$PASSWORD"',
  'echo "secret=$(cat /sec/pw)"',
  'echo "$HOSTNAME" > /scratch/f && echo "scratch=$(cat /scratch/f)"',
  `echo "ns=$(cat ${SA_DIR}/namespace)"`,
  `echo "token=$(cat ${SA_DIR}/token)"`,
  `echo "ca=$(tr '\\n' '|' < ${SA_DIR}/ca.crt)"`,
  'while true; do',
  '  r=$(cd /cfg/..data 2>/dev/null && a=$(cat a 2>/dev/null) && b=$(cat b 2>/dev/null) && echo "$a/$b")',
  '  [ -n "$r" ] && echo "read=$r"',
  '  sleep 0.2',
  'done',
].join('\n');

function deployment(name: string, runtime: string, config: string): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: { 'vic-kubelet.io/runtime': runtime } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': nodeName },
          tolerations: [
            { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
          ],
          serviceAccountName: 'app',
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'app',
              image: vic.image,
              command: ['sh', '-c', script],
              // A pod VM of 128 MiB (the floor): three of them stay small.
              resources: { limits: { memory: '32Mi' } },
              envFrom: [{ configMapRef: { name: config } }],
              env: [
                {
                  name: 'PASSWORD',
                  valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } },
                },
              ],
              volumeMounts: [
                { name: 'cfg', mountPath: '/cfg' },
                { name: 'sec', mountPath: '/sec' },
                { name: 'scratch', mountPath: '/scratch' },
              ],
            },
          ],
          volumes: [
            { name: 'cfg', configMap: { name: config } },
            {
              name: 'sec',
              secret: { secretName: 'creds', items: [{ key: 'password', path: 'pw' }] },
            },
            { name: 'scratch', emptyDir: {} },
          ],
        },
      },
    },
  };
}

const logsOf = (name: string) => kubectl(cluster, 'logs', '-n', namespace, name).catch(() => '');

const valueIn = (lines: string[], key: string) =>
  lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

const ignoreExists = (e: unknown) => {
  if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
};

describe('a Deployment of 3 with ConfigMap, Secret, emptyDir and its token', () => {
  it.each(['runc', 'vm'])(
    '%s: every replica reads its volumes, env and bound token; a ConfigMap edit reaches all, never mixed',
    async (runtime) => {
      const name = `app-${runtime}`;
      const config = `config-${runtime}`;
      await core
        .createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } })
        .catch(ignoreExists);
      await core
        .createNamespacedSecret({
          namespace,
          body: { metadata: { name: 'creds' }, stringData: { password: 's3cret' } },
        })
        .catch(ignoreExists);
      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: config }, data: { GREETING: 'hello', a: 'v1', b: 'v1' } },
      });
      await apps.createNamespacedDeployment({ namespace, body: deployment(name, runtime, config) });

      // Every replica Running and past its first read.
      const pods = await until(
        `${REPLICAS} replicas to read their volumes`,
        async () => {
          const list = await core.listNamespacedPod({ namespace, labelSelector: `app=${name}` });
          const running = list.items.filter(
            (p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp,
          );
          if (running.length !== REPLICAS) return false;
          const logs = await Promise.all(running.map((p) => logsOf(p.metadata!.name!)));
          return logs.every((l) => l.includes('read=')) && running;
        },
        240_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${vic.node.output().slice(-3000)}`);
      });

      const rootCA = await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace });
      const auth = kubeConfigOf(cluster).makeApiClient(k8s.AuthenticationV1Api);
      for (const p of pods) {
        const lines = (await logsOf(p.metadata!.name!)).split('\n');
        expect(valueIn(lines, 'env')).toBe('hello/s3cret');
        expect(valueIn(lines, 'secret')).toBe('s3cret');
        expect(valueIn(lines, 'scratch')).toBe(p.metadata!.name);
        expect(valueIn(lines, 'ns')).toBe(namespace);
        expect(valueIn(lines, 'ca')).toBe(rootCA.data!['ca.crt'].replace(/\n/g, '|'));
        expect(valueIn(lines, 'read')).toBe('v1/v1');
        const review = await auth.createTokenReview({
          body: { spec: { token: valueIn(lines, 'token')! } },
        });
        expect(review.status?.authenticated).toBe(true);
        expect(review.status?.user?.username).toBe(`system:serviceaccount:${namespace}:app`);
        const extra = review.status?.user?.extra ?? {};
        expect(extra['authentication.kubernetes.io/pod-uid']).toEqual([p.metadata!.uid]);
        expect(extra['authentication.kubernetes.io/pod-name']).toEqual([p.metadata!.name]);
        expect(extra['authentication.kubernetes.io/node-name']).toEqual([nodeName]);
      }

      const cm = await core.readNamespacedConfigMap({ name: config, namespace });
      cm.data = { ...cm.data, a: 'v2', b: 'v2' };
      await core.replaceNamespacedConfigMap({ name: config, namespace, body: cm });
      const editedAt = Date.now();
      const arrived = new Map<string, number>();
      let readsChecked = 0;
      await until(
        'the edit to reach every replica',
        async () => {
          for (const p of pods) {
            const pod = p.metadata!.name!;
            if (!arrived.has(pod) && (await logsOf(pod)).includes('read=v2/v2'))
              arrived.set(pod, Date.now() - editedAt);
          }
          return arrived.size === REPLICAS;
        },
        60_000,
      );
      for (const ms of arrived.values()) expect(ms).toBeLessThan(60_000);
      // A few more reads after the swap, then every read of every replica is checked.
      await new Promise((r) => setTimeout(r, 2_000));
      for (const p of pods) {
        const reads = (await logsOf(p.metadata!.name!))
          .split('\n')
          .filter((l) => l.startsWith('read='))
          .map((l) => l.slice(5));
        const firstNew = reads.indexOf('v2/v2');
        expect(firstNew).toBeGreaterThan(0);
        expect(reads.slice(0, firstNew).every((r) => r === 'v1/v1')).toBe(true);
        expect(reads.slice(firstNew).every((r) => r === 'v2/v2')).toBe(true);
        expect(reads.length - firstNew).toBeGreaterThan(1);
        readsChecked += reads.length;
      }
      console.log(
        `${runtime}: the edit reached the replicas in ${[...arrived.values()].sort((a, b) => a - b).join(', ')} ms; ${readsChecked} reads, none mixed`,
      );
      await apps.deleteNamespacedDeployment({ name, namespace });
    },
    420_000,
  );
});
