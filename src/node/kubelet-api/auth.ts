// Who is calling, and may they: the kubelet's authentication (a client certificate signed by
// --client-ca-file, or a bearer token checked with a TokenReview) and authorization (a
// SubjectAccessReview on the node's subresource the path belongs to).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { forbidden, unauthorized } from '../../errdefs.js';
import { apiErrorMessage, type Kube } from '../kube.js';

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
  constructor(
    private readonly kube: Kube,
    private readonly nodeName: string,
  ) {}

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
    const review = await this.kube.call(() =>
      this.kube.authentication.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token: m[1] },
        },
      }),
    );
    const u = review.status?.user;
    if (!review.status?.authenticated || !u?.username) return undefined;
    return { user: u.username, groups: u.groups ?? [], uid: u.uid, extra: u.extra };
  }

  async authorize(caller: Caller, method: string, path: string): Promise<boolean> {
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
              verb: VERBS[method] ?? method.toLowerCase(),
              resource: 'nodes',
              subresource: subresourceOf(path),
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
      return { ok: false, error: new Error(`authentication failed: ${apiErrorMessage(err)}`) };
    }
    if (!caller) return { ok: false, error: unauthorized('Unauthorized') };
    let allowed: boolean;
    try {
      allowed = await this.authorize(caller, req.method ?? 'GET', path);
    } catch (err) {
      return { ok: false, error: new Error(`authorization failed: ${apiErrorMessage(err)}`) };
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
