import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { testPod } from '../../../../test/support/pods.js';
import type { EnvSources } from './env-sources.js';
import { memoizedSources } from './env-sources.js';
import { podServices, serviceVariables } from './service-env.js';

const svc = (
  namespace: string,
  name: string,
  clusterIP: string,
  ports: k8s.V1ServicePort[] = [{ port: 80 }],
): k8s.V1Service => ({ metadata: { namespace, name }, spec: { clusterIP, ports } });

function sources(all: k8s.V1Service[]): EnvSources & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    configMap: () => Promise.reject(new Error('not here')),
    secret: () => Promise.reject(new Error('not here')),
    services: async (ns) => {
      reads.push(`list ${ns}`);
      return all.filter((s) => s.metadata!.namespace === ns);
    },
    service: async (ns, name) => {
      reads.push(`get ${ns}/${name}`);
      return all.find((s) => s.metadata!.namespace === ns && s.metadata!.name === name);
    },
  };
}

const ALL = [
  svc('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443, protocol: 'TCP' }]),
  svc('default', 'other', '10.96.0.2'),
  svc('app', 'my-db', '10.96.0.3', [
    { name: 'pg', port: 5432 },
    { name: 'metrics-port', port: 9187, protocol: 'UDP' },
  ]),
  svc('app', 'headless', 'None'),
  svc('app', 'external', ''),
  svc('app', 'kubernetes', '10.96.9.9'),
];

const namesOf = (s: k8s.V1Service[]) => s.map((x) => x.metadata!.name);

describe('service variables', () => {
  it('are the docker-link style set the kubelet makes, per Service', () => {
    expect(Object.fromEntries(serviceVariables([ALL[2]]))).toEqual({
      MY_DB_SERVICE_HOST: '10.96.0.3',
      MY_DB_SERVICE_PORT: '5432',
      MY_DB_SERVICE_PORT_PG: '5432',
      MY_DB_SERVICE_PORT_METRICS_PORT: '9187',
      MY_DB_PORT: 'tcp://10.96.0.3:5432',
      MY_DB_PORT_5432_TCP: 'tcp://10.96.0.3:5432',
      MY_DB_PORT_5432_TCP_PROTO: 'tcp',
      MY_DB_PORT_5432_TCP_PORT: '5432',
      MY_DB_PORT_5432_TCP_ADDR: '10.96.0.3',
      MY_DB_PORT_9187_UDP: 'udp://10.96.0.3:9187',
      MY_DB_PORT_9187_UDP_PROTO: 'udp',
      MY_DB_PORT_9187_UDP_PORT: '9187',
      MY_DB_PORT_9187_UDP_ADDR: '10.96.0.3',
    });
    const v6 = serviceVariables([svc('a', 'v6', 'fd00::1', [{ port: 53, protocol: 'UDP' }])]);
    expect(v6.get('V6_PORT')).toBe('udp://[fd00::1]:53');
    // Headless and ExternalName Services have none.
    expect(serviceVariables([ALL[3], ALL[4]]).size).toBe(0);
  });

  it("are the kubernetes Service's and the pod namespace's Services' (clusterIP set only)", async () => {
    const s = sources(ALL);
    const got = await podServices(testPod('p', [], {}), s).then(namesOf);
    expect(got).toEqual(['kubernetes', 'other']);
    const pod = testPod('p');
    pod.metadata!.namespace = 'app';
    // The namespace's own "kubernetes" does not replace the master one.
    const app = await podServices(pod, s);
    expect(namesOf(app)).toEqual(['kubernetes', 'my-db']);
    expect(app[0].spec!.clusterIP).toBe('10.96.0.1');
    // Read by name and listed in the pod's namespace only: never across the cluster.
    expect(s.reads).toEqual([
      'get default/kubernetes',
      'list default',
      'get default/kubernetes',
      'list app',
    ]);
  });

  it('enableServiceLinks: false leaves only KUBERNETES_SERVICE_HOST/PORT (and its links)', async () => {
    const s = sources(ALL);
    const pod = testPod('p', [], { enableServiceLinks: false });
    pod.metadata!.namespace = 'app';
    const vars = serviceVariables(await podServices(pod, memoizedSources(s)));
    expect(vars.get('KUBERNETES_SERVICE_HOST')).toBe('10.96.0.1');
    expect(vars.get('KUBERNETES_SERVICE_PORT')).toBe('443');
    expect(vars.get('KUBERNETES_SERVICE_PORT_HTTPS')).toBe('443');
    expect([...vars.keys()].some((k) => k.startsWith('MY_DB'))).toBe(false);
    expect(s.reads).toEqual(['get default/kubernetes']);
  });
});
