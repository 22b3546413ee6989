// The VIC provider, put together for the node: HTTP clients of a VCH's portlayer and persona
// (unix:///path or http://127.0.0.1:port, an embedded VCH's sockets or a remote VCH) and, with
// a kubeconfig, what pods reference in the API server: imagePullSecrets, and the ConfigMaps,
// Secrets and Services of containers' env.
import type { NodeDns } from './operations/pod-dns.js';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../logging/logger.js';
import { kubePodReader } from './evicted-state.js';
import { kubeEnvSources, type EnvSources } from './operations/env-sources.js';
import { kubeTokenRequester, TokenManager } from './operations/volumes/service-account-token.js';
import { PersonaClient } from './proxy/persona-client.js';
import { PortlayerClient } from './proxy/portlayer-client.js';
import { VicProvider } from './vic-provider.js';
import type { HostAccessPolicy } from './operations/host-access.js';

export { VicProvider } from './vic-provider.js';
export { PersonaClient } from './proxy/persona-client.js';
export { PortlayerClient } from './proxy/portlayer-client.js';

export interface VicProviderConfig {
  /** The portlayer API: `unix:///run/vch/portlayer.sock` or `http://127.0.0.1:2377`. */
  portlayer: string;
  /** The persona (Docker Engine API): `unix:///run/vch/docker.sock` or `http://…`. */
  persona: string;
  nodeIP: string;
  log: Logger;
  /**
   * For imagePullSecrets and containers' env (ConfigMaps, Secrets, Services); without it pulls
   * go without credentials and a container that references a ConfigMap or Secret waits.
   */
  kubeConfig?: k8s.KubeConfig;
  /** How often a container waiting on a missing ConfigMap or Secret is tried again (ms). */
  configRetryMs?: number;
  /** ConfigMaps and Secrets without a cluster (`run`'s manifest); over kubeConfig's. */
  sources?: EnvSources;
  /** The portlayer's image store name (VIC: the VCH's UUID). Default "default". */
  storeName?: string;
  /** The node's directory of Localhost seccomp profiles; default /var/lib/kubelet/seccomp. */
  seccompProfileRoot?: string;
  /** Sysctls allowed beyond the kubelet's safe set (--allowed-unsafe-sysctls). */
  allowedUnsafeSysctls?: string[];
  /** --allow-privileged, --allow-host-namespaces. */
  hostAccess?: HostAccessPolicy;
  /** --cluster-dns, --cluster-domain, --resolv-conf. */
  dns?: NodeDns;
}

export function createVicProvider(c: VicProviderConfig): VicProvider {
  // The node's reads of the API: Secrets (imagePullSecrets, env), ConfigMaps, Services.
  const sources = c.sources ?? (c.kubeConfig && kubeEnvSources(c.kubeConfig));
  const portlayer = new PortlayerClient(c.portlayer, c.storeName);
  return new VicProvider({
    isolation: portlayer,
    stats: portlayer,
    ...(c.kubeConfig && { apiPods: kubePodReader(c.kubeConfig) }),
    // The pod's volumes on the VCH; tokens from the TokenRequest API with the node's identity.
    volumes: {
      store: portlayer,
      tokens: c.kubeConfig && new TokenManager(kubeTokenRequester(c.kubeConfig)),
    },
    imageStore: new PersonaClient(c.persona),
    nodeIP: c.nodeIP,
    log: c.log,
    secrets: sources && ((namespace, name) => sources.secret(namespace, name)),
    envSources: sources,
    configRetryMs: c.configRetryMs,
    seccompProfileRoot: c.seccompProfileRoot,
    allowedUnsafeSysctls: c.allowedUnsafeSysctls,
    ...(c.hostAccess && { hostAccess: c.hostAccess }),
    ...(c.dns && { dns: c.dns }),
  });
}
