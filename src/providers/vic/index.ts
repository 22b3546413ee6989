// The VIC provider, put together for the node: HTTP clients of a VCH's portlayer and persona
// (unix:///path or http://127.0.0.1:port, an embedded VCH's sockets or a remote VCH) and, with
// a kubeconfig, imagePullSecrets read from the API server.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../logging/logger.js';
import type { SecretSource } from './operations/pod-creator.js';
import { PersonaClient } from './proxy/persona-client.js';
import { PortlayerClient } from './proxy/portlayer-client.js';
import { VicProvider } from './vic-provider.js';

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
  /** For imagePullSecrets; without it pulls go without credentials. */
  kubeConfig?: k8s.KubeConfig;
  /** The portlayer's image store name (VIC: the VCH's UUID). Default "default". */
  storeName?: string;
}

/** Reads Secrets with the node's credentials; a missing one is undefined. */
export function secretsFromApi(kubeConfig: k8s.KubeConfig): SecretSource {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  return async (namespace, name) => {
    try {
      return await core.readNamespacedSecret({ name, namespace });
    } catch (e) {
      if (e instanceof k8s.ApiException && e.code === 404) return undefined;
      throw e;
    }
  };
}

export function createVicProvider(c: VicProviderConfig): VicProvider {
  return new VicProvider({
    isolation: new PortlayerClient(c.portlayer, c.storeName),
    imageStore: new PersonaClient(c.persona),
    nodeIP: c.nodeIP,
    log: c.log,
    secrets: c.kubeConfig ? secretsFromApi(c.kubeConfig) : undefined,
  });
}
