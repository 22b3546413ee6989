// The Kubernetes API as the virtual kubelet uses it: typed clients of one KubeConfig, a
// client-side rate limit shared by all of them (kubelet's --kube-api-qps/--kube-api-burst),
// and the classification of API errors.
import * as k8s from '@kubernetes/client-node';
import { makeKeepAliveClient } from './kube-clients.js';
import { TokenBucket } from './token-bucket.js';
import type { RequestObserver } from './metrics/api-client.js';

export interface KubeOptions {
  /** Sustained requests per second to the apiserver. */
  qps: number;
  /** Requests allowed at once above the sustained rate. */
  burst: number;
  /** Hears of every request to the apiserver once answered (the node's metrics). */
  observe?: RequestObserver;
}

// 1000 pods moving at once cost about three requests each (status, event, delete): at 100/s
// with a burst of 200 they settle in well under a minute without flooding the apiserver.
export const DEFAULT_KUBE_OPTIONS: KubeOptions = { qps: 100, burst: 200 };

export class Kube {
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  readonly authentication: k8s.AuthenticationV1Api;
  readonly authorization: k8s.AuthorizationV1Api;
  private readonly bucket: TokenBucket;

  constructor(
    readonly config: k8s.KubeConfig,
    options: KubeOptions = DEFAULT_KUBE_OPTIONS,
  ) {
    const observe = options.observe;
    const client = <T>(api: new (c: k8s.Configuration) => T): T =>
      makeKeepAliveClient(config, api, observe);
    this.core = client(k8s.CoreV1Api);
    this.coordination = client(k8s.CoordinationV1Api);
    this.authentication = client(k8s.AuthenticationV1Api);
    this.authorization = client(k8s.AuthorizationV1Api);
    this.bucket = new TokenBucket(options.qps, options.burst);
  }

  /** Runs one API call once the rate limit allows it. */
  async call<T>(request: () => Promise<T>): Promise<T> {
    await this.bucket.take();
    return request();
  }
}

/** HTTP status of an API error, or undefined for errors that never reached the apiserver. */
export function apiStatus(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isApiNotFound = (err: unknown) => apiStatus(err) === 404;
export const isApiConflict = (err: unknown) => apiStatus(err) === 409;
export const isApiGone = (err: unknown) => apiStatus(err) === 410;

/** One line for an API error: the apiserver's Status message when there is one. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body = err.body as unknown;
    let message: string | undefined;
    if (typeof body === 'string') {
      try {
        message = (JSON.parse(body) as { message?: string }).message;
      } catch {
        message = body;
      }
    } else message = (body as { message?: string } | null)?.message;
    return `apiserver answered ${err.code}${message ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}
