// Registry authentication: the WWW-Authenticate challenge of a 401 answered with HTTP basic
// credentials or with a bearer token fetched from the challenge's realm (the Docker token
// protocol), cached per registry and scope until it expires.
import { InvalidInputError, UnavailableError } from './errors.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header: `Bearer realm="https://auth",service="reg",scope="…"`,
 * `Basic realm="Registry Realm"`. Several challenges may share one header.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][\w!#$%&'*+.^`|~-]*)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?\s*,?/gy;
  let current: Challenge | undefined;
  let m: RegExpExecArray | null;
  while (re.lastIndex < header.length && (m = re.exec(header)) !== null) {
    if (m[0] === '') break;
    const [, token, quoted, bare] = m;
    if (quoted === undefined && bare === undefined) {
      // A bare token starts a new challenge, unless it is a token68 right after a scheme.
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
    } else if (current) {
      current.params[token.toLowerCase()] = quoted?.replace(/\\(.)/g, '$1') ?? bare ?? '';
    }
  }
  return out;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

export type FetchLike = typeof fetch;

/** Answers challenges for one registry host and remembers what worked. */
export class RegistryAuth {
  readonly #tokens = new Map<string, CachedToken>();
  /** The scheme the registry asked for last: 'basic' or 'bearer'. */
  #scheme: string | undefined;

  constructor(
    readonly registry: string,
    readonly credentials: Credentials | undefined,
    readonly fetchImpl: FetchLike,
  ) {}

  /** The Authorization header for a request needing `scope`, if we know one already. */
  cachedHeader(scope: string): string | undefined {
    if (this.#scheme === 'basic' && this.credentials) return basicHeader(this.credentials);
    const t = this.#tokens.get(scope);
    if (t && t.expiresAt > Date.now()) return `Bearer ${t.value}`;
    return undefined;
  }

  /**
   * Handles a 401's challenge; returns the Authorization header to retry with. Throws an
   * InvalidInputError if there is nothing we can answer with.
   */
  async answer(wwwAuthenticate: string | null, scope: string, what: string): Promise<string> {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.#scheme = 'bearer';
      const token = await this.#fetchToken(bearer.params, scope, what);
      return `Bearer ${token}`;
    }
    if (basic) {
      this.#scheme = 'basic';
      if (!this.credentials)
        throw new InvalidInputError(
          `unauthorized: ${what} needs a username and password for ${this.registry}`,
        );
      return basicHeader(this.credentials);
    }
    throw new InvalidInputError(
      `unauthorized: ${this.registry} answered 401 without a challenge we support (${wwwAuthenticate ?? 'no WWW-Authenticate'})`,
    );
  }

  async #fetchToken(params: Record<string, string>, scope: string, what: string): Promise<string> {
    const realm = params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw new InvalidInputError(
        `unauthorized: ${this.registry} sent a bearer challenge without a valid realm (${JSON.stringify(realm)})`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new InvalidInputError(`unauthorized: token realm ${realm} is not http(s)`);
    if (params.service) url.searchParams.set('service', params.service);
    // The scope the registry names, else the one this request needs.
    url.searchParams.set('scope', params.scope || scope);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = basicHeader(this.credentials);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { headers, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new UnavailableError(
        `cannot reach token service ${url.origin} for ${this.registry}: ${causeText(e)}`,
      );
    }
    if (res.status === 401 || res.status === 403)
      throw new InvalidInputError(
        `unauthorized: token service ${url.origin} refused ${this.credentials ? `the credentials of ${this.credentials.username}` : 'anonymous access'} for ${what}`,
      );
    if (!res.ok)
      throw new UnavailableError(`token service ${url.origin} answered ${res.status} for ${what}`);
    let body: Record<string, unknown>;
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      throw new UnavailableError(`token service ${url.origin} sent a reply that is not JSON`);
    }
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '')
      throw new UnavailableError(`token service ${url.origin} sent no token`);
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 60;
    // Renew a little early: a token that expires mid-request is a failed pull.
    this.#tokens.set(scope, {
      value: token,
      expiresAt: Date.now() + Math.max(lifetime - 10, 5) * 1000,
    });
    return token;
  }
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The short reason of a failed fetch: `ECONNREFUSED`, `getaddrinfo ENOTFOUND host`. */
export function causeText(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return (e as Error).message ?? String(e);
}
