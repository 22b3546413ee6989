// Who is calling, and may they: the kubelet's authentication (a client certificate signed by
// --client-ca-file, or a bearer token checked with a TokenReview) and authorization (a
// SubjectAccessReview on the node's subresource the path belongs to). Review answers are
// cached as the kubelet's webhook caches them (review-cache.ts); a review that fails is not,
// and its error text stays in the node's log, never in the reply.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { forbidden, unauthorized } from '../../errdefs.js';
import { apiErrorMessage, type Kube } from '../kube.js';
import { ReviewCache } from './review-cache.js';

/** The kubelet's defaults: --authentication-token-webhook-cache-ttl and the authorization ones. */
export const TOKEN_TTL_MS = 120_000;
export const ALLOWED_TTL_MS = 120_000;
export const DENIED_TTL_MS = 30_000;

export interface Caller {
  user: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

/** A refusal is an Unauthorized or Forbidden error, or an unclassified one (a 500) if the check failed. */
export type AuthResult = { ok: true; caller: Caller } | { ok: false; error: Error };

/** The node subresource a path is authorized as, the way kubelet maps them. */
export function subresourceOf(path: string): 'stats' | 'log' | 'metrics' | 'proxy' {
  if (path === '/stats' || path.startsWith('/stats/')) return 'stats';
  if (path === '/logs' || path.startsWith('/logs/')) return 'log';
  if (path === '/metrics' || path.startsWith('/metrics/')) return 'metrics';
  return 'proxy';
}

const VERBS: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

export class Authenticator {
  private readonly tokens: ReviewCache<Caller | undefined>;
  private readonly access: ReviewCache<boolean>;

  constructor(
    private readonly kube: Kube,
    private readonly nodeName: string,
    now: () => number = Date.now,
  ) {
    this.tokens = new ReviewCache({ ttlMs: () => TOKEN_TTL_MS, now });
    this.access = new ReviewCache({
      ttlMs: (allowed) => (allowed ? ALLOWED_TTL_MS : DENIED_TTL_MS),
      now,
    });
  }

  async authenticate(req: IncomingMessage): Promise<Caller | undefined> {
    const socket = req.socket as TLSSocket;
    // The TLS layer checked the chain against the client CA; only a verified one counts.
    if (socket.authorized) {
      const cert = socket.getPeerCertificate();
      const subject = cert.subject as unknown as Record<string, string | string[]> | undefined;
      const cn = subject?.CN;
      const o = subject?.O;
      if (typeof cn === 'string' && cn !== '')
        return {
          user: cn,
          groups: [...(o === undefined ? [] : [o].flat()), 'system:authenticated'],
        };
    }
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) return undefined;
    // Keyed by the token's hash: the cache holds no credential.
    const key = createHash('sha256').update(m[1]).digest('hex');
    return this.tokens.get(key, () => this.reviewToken(m[1]));
  }

  private async reviewToken(token: string): Promise<Caller | undefined> {
    const review = await this.kube.call(() =>
      this.kube.authentication.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token },
        },
      }),
    );
    const u = review.status?.user;
    if (!review.status?.authenticated || !u?.username) return undefined;
    return { user: u.username, groups: u.groups ?? [], uid: u.uid, extra: u.extra };
  }

  async authorize(caller: Caller, method: string, path: string): Promise<boolean> {
    const verb = VERBS[method] ?? method.toLowerCase();
    const subresource = subresourceOf(path);
    const key = JSON.stringify([
      caller.user,
      caller.groups,
      caller.uid,
      caller.extra,
      verb,
      subresource,
    ]);
    return this.access.get(key, () => this.reviewAccess(caller, verb, subresource));
  }

  private async reviewAccess(caller: Caller, verb: string, subresource: string): Promise<boolean> {
    const review = await this.kube.call(() =>
      this.kube.authorization.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: caller.user,
            groups: caller.groups,
            uid: caller.uid,
            extra: caller.extra,
            resourceAttributes: {
              verb,
              resource: 'nodes',
              subresource,
              name: this.nodeName,
            },
          },
        },
      }),
    );
    return review.status?.allowed === true;
  }

  /** Authenticates and authorizes one request. */
  async check(req: IncomingMessage, path: string): Promise<AuthResult> {
    let caller: Caller | undefined;
    try {
      caller = await this.authenticate(req);
    } catch (err) {
      return {
        ok: false,
        error: new Error('authentication could not be checked', { cause: apiErrorMessage(err) }),
      };
    }
    if (!caller) return { ok: false, error: unauthorized('Unauthorized') };
    let allowed: boolean;
    try {
      allowed = await this.authorize(caller, req.method ?? 'GET', path);
    } catch (err) {
      return {
        ok: false,
        error: new Error('authorization could not be checked', { cause: apiErrorMessage(err) }),
      };
    }
    if (!allowed) {
      return {
        ok: false,
        error: forbidden(
          `Forbidden (user=${caller.user}, verb=${VERBS[req.method ?? 'GET'] ?? req.method}, resource=nodes, subresource=${subresourceOf(path)})`,
        ),
      };
    }
    return { ok: true, caller };
  }
}
