// Containers' environment from the API, end to end: `vic-kubelet node` with a node's own
// credentials (system:node:NAME, so the apiserver's Node authorizer decides what it may read)
// and an embedded VCH; kubectl applies pods whose env comes from a ConfigMap and a Secret
// (valueFrom and envFrom), the downward API and the Services, and reads what they printed; a
// pod whose ConfigMap does not exist yet waits with CreateContainerConfigError and an Event,
// and starts by itself once the ConfigMap is created.
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl } from './cluster.js';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({ prefix: 'env' });
const { cluster, core, namespace, nodeName } = vic;

function pod(name: string, container: Partial<k8s.V1Container>, resources = {}): k8s.V1Pod {
  return podOn(nodeName, namespace, name, {
    containers: [{ name: 'app', image: vic.image, resources, ...container }],
  });
}

const phaseOf = async (name: string) =>
  (await core.readNamespacedPod({ name, namespace })).status?.phase;

async function succeeded(name: string): Promise<void> {
  await until(`${name} to succeed`, async () => (await phaseOf(name)) === 'Succeeded', 90_000);
}

describe('env from ConfigMaps, Secrets, the downward API and Services', () => {
  it('a pod prints what valueFrom and envFrom gave it, $(VAR)-expanded', async () => {
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'settings' }, data: { GREETING: 'hello', COLOR: 'blue' } },
    });
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'creds' }, stringData: { user: 'bob', password: 's3cret word' } },
    });
    const web = await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'web' }, spec: { ports: [{ port: 8080, name: 'http' }] } },
    });
    const kubernetes = await core.readNamespacedService({
      name: 'kubernetes',
      namespace: 'default',
    });
    const script =
      'echo "args: $0 / $1"; env | grep -E "^(CM_[A-Z]+|DB_[a-z]+|FROM_[A-Z]+|HOST_IP|MEM_MI|URL|KUBERNETES_SERVICE_HOST|WEB_SERVICE_(HOST|PORT_HTTP))=" | sort';
    await core.createNamespacedPod({
      namespace,
      body: pod(
        'env',
        {
          command: ['sh', '-c', script, '$(URL)', '$(DB_password)'],
          envFrom: [
            { configMapRef: { name: 'settings' }, prefix: 'CM_' },
            { secretRef: { name: 'creds' }, prefix: 'DB_' },
          ],
          env: [
            {
              name: 'FROM_CM',
              valueFrom: { configMapKeyRef: { name: 'settings', key: 'GREETING' } },
            },
            { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'creds', key: 'user' } } },
            {
              name: 'FROM_NOWHERE',
              valueFrom: { configMapKeyRef: { name: 'absent', key: 'k', optional: true } },
            },
            { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
            {
              name: 'MEM_MI',
              valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } },
            },
            { name: 'URL', value: '$(FROM_CM)-$(CM_COLOR)@$(WEB_SERVICE_HOST)' },
          ],
        },
        { limits: { memory: '64Mi' } },
      ),
    });
    await succeeded('env');
    const webIP = web.spec!.clusterIP!;
    const logs = await kubectl(cluster, 'logs', '-n', namespace, 'env');
    expect(logs.split('\n')).toEqual([
      `args: hello-blue@${webIP} / s3cret word`,
      'CM_COLOR=blue',
      'CM_GREETING=hello',
      'DB_password=s3cret word',
      'DB_user=bob',
      'FROM_CM=hello',
      'FROM_SECRET=bob',
      'HOST_IP=127.0.0.1',
      `KUBERNETES_SERVICE_HOST=${kubernetes.spec!.clusterIP}`,
      'MEM_MI=64',
      `URL=hello-blue@${webIP}`,
      `WEB_SERVICE_HOST=${webIP}`,
      'WEB_SERVICE_PORT_HTTP=8080',
      '',
    ]);
  }, 120_000);

  it('a missing ConfigMap: CreateContainerConfigError and an Event, then it starts by itself', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('waits', {
        command: ['sh', '-c', 'echo "later=$LATER"'],
        env: [{ name: 'LATER', valueFrom: { configMapKeyRef: { name: 'later', key: 'value' } } }],
      }),
    });
    const waiting = await until('the container to wait on its config', async () => {
      const p = await core.readNamespacedPod({ name: 'waits', namespace });
      const w = p.status?.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === 'CreateContainerConfigError' && { phase: p.status!.phase, ...w };
    });
    expect(waiting).toEqual({
      phase: 'Pending',
      reason: 'CreateContainerConfigError',
      message: 'configmap "later" not found',
    });
    const event = await until('the Failed event', async () =>
      (
        await core.listNamespacedEvent({
          namespace,
          fieldSelector: 'involvedObject.name=waits,reason=Failed',
        })
      ).items.find((e) => e.message === 'Error: configmap "later" not found'),
    );
    expect(event).toMatchObject({ type: 'Warning', source: { component: 'vic-kubelet' } });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'later' }, data: { value: 'arrived' } },
    });
    await succeeded('waits');
    expect(await kubectl(cluster, 'logs', '-n', namespace, 'waits')).toBe('later=arrived\n');
  }, 120_000);
});
