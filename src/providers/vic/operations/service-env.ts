// The Service variables the kubelet gives every container (pkg/kubelet/envvars): for each
// Service with a cluster IP, NAME_SERVICE_HOST, NAME_SERVICE_PORT, NAME_SERVICE_PORT_<port name>
// and the Docker-link style NAME_PORT, NAME_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}. The
// `kubernetes` Service of `default` is always there; the Services of the pod's own namespace
// only while spec.enableServiceLinks is not false.
import type * as k8s from '@kubernetes/client-node';
import type { EnvSources } from './env-sources.js';

const MASTER_NAMESPACE = 'default';
const MASTER_SERVICES = new Set(['kubernetes']);

/** "my-svc" → "MY_SVC", as the kubelet names a Service's variables. */
const varName = (s: string) => s.replaceAll('-', '_').toUpperCase();

/** A cluster IP that is neither "None" (headless) nor empty (ExternalName). */
const hasClusterIP = (s: k8s.V1Service) => !!s.spec?.clusterIP && s.spec.clusterIP !== 'None';

/** The variables of these Services, in the kubelet's order per Service. */
export function serviceVariables(services: k8s.V1Service[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const svc of services) {
    const ports = svc.spec?.ports ?? [];
    if (!hasClusterIP(svc) || ports.length === 0) continue;
    const ip = svc.spec!.clusterIP!;
    const prefix = varName(svc.metadata?.name ?? '');
    out.set(`${prefix}_SERVICE_HOST`, ip);
    out.set(`${prefix}_SERVICE_PORT`, String(ports[0].port));
    for (const p of ports)
      if (p.name) out.set(`${prefix}_SERVICE_PORT_${varName(p.name)}`, String(p.port));
    ports.forEach((p, i) => {
      const proto = (p.protocol || 'TCP').toLowerCase();
      const hostPort = ip.includes(':') ? `[${ip}]:${p.port}` : `${ip}:${p.port}`;
      if (i === 0) out.set(`${prefix}_PORT`, `${proto}://${hostPort}`);
      const portPrefix = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.set(portPrefix, `${proto}://${hostPort}`);
      out.set(`${portPrefix}_PROTO`, proto);
      out.set(`${portPrefix}_PORT`, String(p.port));
      out.set(`${portPrefix}_ADDR`, ip);
    });
  }
  return out;
}

/**
 * The Services whose variables a pod's containers get: the master Service(s) of `default`
 * (whatever enableServiceLinks says), then those of the pod's namespace when links are on. A
 * Service of the pod's namespace named like a master Service does not replace it.
 */
export async function podServices(pod: k8s.V1Pod, sources: EnvSources): Promise<k8s.V1Service[]> {
  const namespace = pod.metadata!.namespace!;
  const links = pod.spec?.enableServiceLinks ?? true;
  const byName = new Map<string, k8s.V1Service>();
  for (const name of MASTER_SERVICES) {
    const svc = await sources.service(MASTER_NAMESPACE, name);
    if (svc && hasClusterIP(svc)) byName.set(name, svc);
  }
  if (links)
    for (const svc of await sources.services(namespace)) {
      const name = svc.metadata?.name ?? '';
      if (namespace === MASTER_NAMESPACE && MASTER_SERVICES.has(name)) continue;
      if (byName.has(name) && MASTER_SERVICES.has(name)) continue;
      if (hasClusterIP(svc)) byName.set(name, svc);
    }
  return [...byName.values()];
}
