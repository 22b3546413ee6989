// Pods' volumes from the API, end to end: `vic-kubelet node` with a node's own credentials
// (system:node:NAME: the Node authorizer lets it read exactly the ConfigMaps and Secrets its pods
// reference and ask tokens for their service accounts) and an embedded VCH. On runc and in a
// pod VM, a pod mounts a ConfigMap, a Secret and an emptyDir, takes env from both, and prints its
// projected token, CA and namespace (the kube-api-access-* volume the API server adds); the token passes a
// TokenReview naming the pod's service account and bound to the pod's uid; an edit of the
// ConfigMap reaches the running pod's file within 60 s; a pod whose ConfigMap volume does not
// exist yet waits with CreateContainerConfigError and starts once it is created, and with
// optional: true starts at once; a subPathExpr that climbs out is refused with the kubelet's
// reason; the token file of a pod whose containers all run as one user is 0600 and that user's.
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl } from './cluster.js';
import { kubeConfigOf, podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({ prefix: 'vol', vm: true });
const { cluster, core, namespace, nodeName } = vic;

function pod(
  name: string,
  container: Partial<k8s.V1Container>,
  volumes: k8s.V1Volume[],
): k8s.V1Pod {
  return podOn(nodeName, namespace, name, {
    restartPolicy: 'Always',
    containers: [{ name: 'app', image: vic.image, ...container }],
    volumes,
  });
}

const phaseOf = async (name: string) =>
  (await core.readNamespacedPod({ name, namespace })).status?.phase;

const logsOf = (name: string) => kubectl(cluster, 'logs', '-n', namespace, name);

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

describe('volumes: ConfigMap, Secret, emptyDir and the service-account token', () => {
  it.each(['runc', 'vm'])(
    '%s: a pod reads its volumes and env; its token is bound to it; a ConfigMap edit reaches it',
    async (runtime) => {
      const settingsName = `settings-${runtime}`;
      const podName = `vols-${runtime}`;
      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: settingsName }, data: { mode: 'blue', GREETING: 'hello' } },
      });
      await core
        .createNamespacedSecret({
          namespace,
          body: { metadata: { name: 'creds' }, stringData: { password: 's3cret' } },
        })
        .catch((e: unknown) => {
          if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
        });
      const script = [
        'echo "env=$GREETING/$PASSWORD"',
        'echo "secret=$(cat /sec/pw)"',
        'echo data > /scratch/f && echo "scratch=$(cat /scratch/f)"',
        `echo "ns=$(cat ${SA_DIR}/namespace)"`,
        `echo "token=$(cat ${SA_DIR}/token)"`,
        `echo "ca=$(cat ${SA_DIR}/ca.crt | tr '\\n' '|')"`,
        'while true; do echo "mode=$(cat /cfg/mode)"; sleep 2; done',
      ].join('; ');
      const body = pod(
        podName,
        {
          command: ['sh', '-c', script],
          envFrom: [{ configMapRef: { name: settingsName } }],
          env: [
            { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
          ],
          volumeMounts: [
            { name: 'cfg', mountPath: '/cfg' },
            { name: 'sec', mountPath: '/sec' },
            { name: 'scratch', mountPath: '/scratch' },
          ],
        },
        [
          { name: 'cfg', configMap: { name: settingsName } },
          {
            name: 'sec',
            secret: { secretName: 'creds', items: [{ key: 'password', path: 'pw' }] },
          },
          { name: 'scratch', emptyDir: {} },
        ],
      );
      body.metadata!.annotations = { 'vic-kubelet.io/runtime': runtime };
      const created = await core.createNamespacedPod({ namespace, body });
      // The API server added the token volume and its mount.
      expect(created.spec!.volumes!.some((v) => v.name.startsWith('kube-api-access-'))).toBe(true);
      const lines = await until(
        'the pod to print its volumes',
        async () => {
          const out = await logsOf(podName).catch(() => '');
          return out.includes('mode=') && out.split('\n');
        },
        120_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${vic.node.output().slice(-3000)}`);
      });
      const value = (key: string) =>
        lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
      expect(value('env')).toBe('hello/s3cret');
      expect(value('secret')).toBe('s3cret');
      expect(value('scratch')).toBe('data');
      expect(value('ns')).toBe(namespace);
      expect(value('mode')).toBe('blue');
      const rootCA = await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace });
      expect(value('ca')).toBe(rootCA.data!['ca.crt'].replace(/\n/g, '|'));

      const auth = kubeConfigOf(cluster).makeApiClient(k8s.AuthenticationV1Api);
      const review = await auth.createTokenReview({ body: { spec: { token: value('token')! } } });
      expect(review.status?.authenticated).toBe(true);
      expect(review.status?.user?.username).toBe(`system:serviceaccount:${namespace}:default`);
      expect(review.status?.user?.extra?.['authentication.kubernetes.io/pod-uid']).toEqual([
        created.metadata!.uid,
      ]);
      expect(review.status?.user?.extra?.['authentication.kubernetes.io/pod-name']).toEqual([
        podName,
      ]);

      const settings = await core.readNamespacedConfigMap({ name: settingsName, namespace });
      settings.data = { ...settings.data, mode: 'green' };
      await core.replaceNamespacedConfigMap({ name: settingsName, namespace, body: settings });
      const changedAt = Date.now();
      await until(
        'the edit to reach the file',
        async () => (await logsOf(podName)).includes('mode=green'),
        60_000,
      );
      expect(Date.now() - changedAt).toBeLessThan(60_000);
    },
    240_000,
  );

  it('a missing ConfigMap volume: CreateContainerConfigError, then it starts once created', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod(
        'waits',
        {
          command: ['sh', '-c', 'cat /later/k; echo; while true; do sleep 5; done'],
          volumeMounts: [{ name: 'later', mountPath: '/later' }],
        },
        [{ name: 'later', configMap: { name: 'later' } }],
      ),
    });
    const waiting = await until(
      'the container to wait on its config',
      async () => {
        const p = await core.readNamespacedPod({ name: 'waits', namespace });
        const w = p.status?.containerStatuses?.[0]?.state?.waiting;
        return w?.reason === 'CreateContainerConfigError' && w;
      },
      90_000,
    );
    expect(waiting.message).toMatch(/volume "later": configmap "later" not found/);
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'later' }, data: { k: 'arrived' } },
    });
    await until('the pod to start', async () => (await phaseOf('waits')) === 'Running', 90_000);
    await until('it to print', async () => (await logsOf('waits')) === 'arrived\n', 30_000);
  }, 200_000);

  it('optional ConfigMaps (volume and env) that do not exist: the pod starts at once', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod(
        'optional',
        {
          command: ['sh', '-c', 'echo "files=[$(ls /opt)] env=[$MAYBE]"; sleep 3600'],
          env: [
            {
              name: 'MAYBE',
              valueFrom: { configMapKeyRef: { name: 'absent', key: 'k', optional: true } },
            },
          ],
          volumeMounts: [{ name: 'opt', mountPath: '/opt' }],
        },
        [{ name: 'opt', configMap: { name: 'absent', optional: true } }],
      ),
    });
    const started = Date.now();
    await until('it to run', async () => (await phaseOf('optional')) === 'Running', 60_000);
    await until('it to print', async () => (await logsOf('optional')).includes('files='), 30_000);
    expect(await logsOf('optional')).toBe('files=[] env=[]\n');
    const p = await core.readNamespacedPod({ name: 'optional', namespace });
    expect(p.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    // No wait on a config retry (10 s) on the way.
    expect(Date.now() - started).toBeLessThan(60_000);
    const waited = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=optional,reason=Failed',
    });
    expect(waited.items).toEqual([]);
  }, 120_000);

  it('a subPathExpr that climbs out of its volume: CreateContainerConfigError, nothing made', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod(
        'climbs',
        {
          command: ['sh', '-c', 'sleep 3600'],
          env: [{ name: 'DIR', value: '..' }],
          volumeMounts: [{ name: 'data', mountPath: '/data', subPathExpr: '$(DIR)/escape' }],
        },
        [{ name: 'data', emptyDir: {} }],
      ),
    });
    const waiting = await until(
      'the container to wait on its config',
      async () => {
        const p = await core.readNamespacedPod({ name: 'climbs', namespace });
        const w = p.status?.containerStatuses?.[0]?.state?.waiting;
        return w?.reason === 'CreateContainerConfigError' && w;
      },
      90_000,
    );
    expect(waiting.message).toMatch(
      /failed to prepare subPath for volumeMount "data": subPath "\.\.\/escape" must not contain '\.\.'/,
    );
    expect((await core.readNamespacedPod({ name: 'climbs', namespace })).status?.phase).toBe(
      'Pending',
    );
  }, 120_000);

  it.each(['runc', 'vm'])(
    '%s: all containers run as one user: the token file is 0600 and theirs, and they read it',
    async (runtime) => {
      const name = `owner-${runtime}`;
      const body = pod(
        name,
        {
          command: [
            'sh',
            '-c',
            `echo "token=$(stat -L -c '%a %u' ${SA_DIR}/token) ca=$(stat -L -c '%a' ${SA_DIR}/ca.crt) id=$(id -u) read=$(wc -c < ${SA_DIR}/token)"; sleep 3600`,
          ],
          securityContext: { runAsUser: 1000 },
        },
        [],
      );
      body.metadata!.annotations = { 'vic-kubelet.io/runtime': runtime };
      body.spec!.securityContext = { runAsUser: 1000 };
      await core.createNamespacedPod({ namespace, body });
      const out = await until(
        'it to print',
        async () => {
          const o = await logsOf(name).catch(() => '');
          return o.includes('token=') && o;
        },
        120_000,
      );
      const m = /^token=(\d+ \d+) ca=(\d+) id=(\d+) read=\s*(\d+)$/m.exec(out);
      expect(m, out).not.toBeNull();
      expect(m![1]).toBe('600 1000');
      expect(m![2]).toBe('644');
      expect(m![3]).toBe('1000');
      expect(Number(m![4])).toBeGreaterThan(100);
    },
    180_000,
  );
});
