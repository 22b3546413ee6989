// Typed API clients of a KubeConfig whose requests share one keep-alive connection pool.
// @kubernetes/client-node gives every request an https.Agent of its own, so each one pays a
// new TLS context and handshake: at a few requests per pod (status, events, tokens) that was
// a tenth of the node's CPU in the scale benchmark (bench/scale.mjs). The client's own
// authentication (headers, exec tokens) still runs on every request; only its agent is swapped
// for one kept per set of TLS options.
import { Agent } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { observingHttpLibrary, type RequestObserver } from './metrics/api-client.js';

type ApiType<T> = new (config: k8s.Configuration) => T;

/** Keep-alive agents by the TLS options they were made with. */
const agents = new Map<string, Agent>();

function sharedAgent(fresh: Agent): Agent {
  const o = fresh.options;
  const key = JSON.stringify([o.ca, o.cert, o.key, o.pfx, o.rejectUnauthorized, o.servername]);
  let agent = agents.get(key);
  if (!agent) {
    // At most 64 connections: a burst of requests (a thousand pods' status and Events) waits
    // for one rather than opening hundreds of TLS handshakes at once, which the apiserver
    // dropped under load. Only the pod and node watches hold one for long.
    agent = new Agent({ ...o, keepAlive: true, maxSockets: 64 });
    agents.set(key, agent);
  }
  return agent;
}

/**
 * As `config.makeApiClient(type)`, over the shared keep-alive connections; with `observe`, each
 * request is timed and counted for the node's metrics (metrics/api-client.ts).
 */
export function makeKeepAliveClient<T>(
  config: k8s.KubeConfig,
  type: ApiType<T>,
  observe?: RequestObserver,
): T {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster!');
  const auth: k8s.SecurityAuthentication = {
    getName: () => 'keep-alive',
    applySecurityAuthentication: async (context) => {
      await config.applySecurityAuthentication(context);
      const fresh = context.getAgent();
      // Only a plain https.Agent (not a proxy's) is swapped.
      if (fresh?.constructor === Agent) context.setAgent(sharedAgent(fresh as Agent));
    },
  };
  return new type(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: auth },
      ...(observe && { httpApi: observingHttpLibrary(observe) }),
    }),
  );
}
