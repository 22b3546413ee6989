// A pod's address before its containers: a container whose env names status.podIP(s) needs
// the pod's IP when it is made, and the IP exists only once the pod's sandbox does (the
// kubelet, too, runs the pod sandbox before it creates a container). For such a pod the
// creator commits the empty pod first (with its logging and interaction joins, which are the
// pod's), reads the pod's endpoints, and joins the containers on a second handle.
import type * as k8s from '@kubernetes/client-node';
import type { IsolationProxy } from '../proxy/isolation-proxy.js';

const POD_IP_FIELDS = new Set(['status.podIP', 'status.podIPs']);

/** Whether a container of the pod takes the pod's IP into its env. */
export function needsPodAddress(pod: k8s.V1Pod): boolean {
  const spec = pod.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].some((c) =>
    (c.env ?? []).some((e) => POD_IP_FIELDS.has(e.valueFrom?.fieldRef?.fieldPath ?? '')),
  );
}

/** The pod's IPs as its endpoints give them (the bridge's address; none on loopback only). */
export function addressesOf(endpoints: { address: string }[] | undefined): string[] {
  return (endpoints ?? []).filter((e) => e.address).map((e) => e.address.split('/')[0]);
}

/**
 * Commits the pod with no containers yet (its sandbox, and so its address, comes to be) and
 * answers its IPs and a fresh handle to join the containers on.
 */
export async function commitSandboxFirst(
  isolation: IsolationProxy,
  id: string,
  handle: string,
): Promise<{ podIPs: string[]; handle: string }> {
  let h = await isolation.addInteractionToHandle(handle);
  h = await isolation.addLoggingToHandle(h);
  await isolation.commitHandle(h);
  const info = await isolation.info(id);
  return { podIPs: addressesOf(info.endpoints), handle: await isolation.handle(id) };
}
