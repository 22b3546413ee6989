// Service-account tokens for projected serviceAccountToken sources, as the kubelet's token
// manager gets them: the TokenRequest API of the pod's ServiceAccount, bound to the pod (kind
// Pod, name, uid), with the source's audience and expirationSeconds; kept and handed out again
// until 80 % of its lifetime has passed or it is older than 24 h, then requested anew.
import * as k8s from '@kubernetes/client-node';
import { makeKeepAliveClient } from '../../../../node/kube-clients.js';

export interface TokenSpec {
  namespace: string;
  serviceAccount: string;
  /** Empty: the API server's own audiences. */
  audiences: string[];
  expirationSeconds: number;
  pod: { name: string; uid: string };
}

export interface IssuedToken {
  token: string;
  /** When it was obtained (ms). */
  issuedAt: number;
  /** When it expires (ms). */
  expiresAt: number;
}

/** Asks the API server for a token (POST …/serviceaccounts/{sa}/token). */
export type TokenRequester = (spec: TokenSpec) => Promise<{ token: string; expiresAt: number }>;

/** The TokenRequest API with the node's credentials. */
export function kubeTokenRequester(kubeConfig: k8s.KubeConfig): TokenRequester {
  const core = makeKeepAliveClient(kubeConfig, k8s.CoreV1Api);
  return async (s) => {
    const r = await core.createNamespacedServiceAccountToken({
      name: s.serviceAccount,
      namespace: s.namespace,
      body: {
        spec: {
          audiences: s.audiences,
          expirationSeconds: s.expirationSeconds,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: s.pod.name, uid: s.pod.uid },
        },
      },
    });
    const token = r.status?.token;
    if (!token) throw new Error('the API server answered a TokenRequest without a token');
    const exp = r.status?.expirationTimestamp;
    return {
      token,
      expiresAt: exp ? new Date(exp).getTime() : Date.now() + s.expirationSeconds * 1000,
    };
  };
}

const MAX_TTL_MS = 24 * 3600 * 1000;

/** The kubelet's rule: a token is renewed after 80 % of its lifetime, or 24 h. */
export function needsRefresh(t: IssuedToken, now: number): boolean {
  if (now >= t.expiresAt) return true;
  return now - t.issuedAt >= Math.min((t.expiresAt - t.issuedAt) * 0.8, MAX_TTL_MS);
}

/** Keeps one token per pod, account, audiences and lifetime; asks again when one is due. */
export class TokenManager {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(
    private readonly request: TokenRequester,
    private readonly now: () => number = Date.now,
  ) {}

  async get(spec: TokenSpec): Promise<IssuedToken> {
    const key = JSON.stringify([
      spec.namespace,
      spec.serviceAccount,
      spec.pod.uid,
      spec.audiences,
      spec.expirationSeconds,
    ]);
    const have = this.tokens.get(key);
    if (have && !needsRefresh(have, this.now())) return have;
    const issuedAt = this.now();
    const got = await this.request(spec);
    const t = { token: got.token, issuedAt, expiresAt: got.expiresAt };
    this.tokens.set(key, t);
    return t;
  }

  /** Forgets a pod's tokens (the pod is gone). */
  forget(podUid: string): void {
    for (const key of this.tokens.keys())
      if ((JSON.parse(key) as string[])[2] === podUid) this.tokens.delete(key);
  }
}
