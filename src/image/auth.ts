// Registry authentication: the WWW-Authenticate challenge of a 401 answered with HTTP basic
// credentials or with a bearer token fetched from the challenge's realm (the Docker token
// protocol), cached per (registry, credentials, scope) until it expires.
import { createHash } from 'node:crypto';
import { InvalidInputError, UnavailableError } from './errors.js';
import { MAX_TOKEN_BODY, readCapped } from './http-body.js';

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

/** Tokens kept at most; expired ones go first, then the oldest. */
const maxTokens = 256;

/**
 * Answers registries' challenges. Nothing here outlives a pull but bearer tokens, cached per
 * (registry, credentials, scope) until they expire, so a pull only ever sends what its own
 * credentials earned; basic credentials are sent with each request of the pull that brings
 * them. What is remembered per registry is only the scheme it asked for.
 */
export class RegistryAuth {
  readonly #tokens = new Map<string, CachedToken>();
  /** The scheme each registry asked for last: 'basic' or 'bearer'. */
  readonly #schemes = new Map<string, string>();

  constructor(
    readonly fetchImpl: FetchLike = fetch,
    /** Whether `registry` is spoken to over plain http (loopback or marked insecure). */
    readonly plainHttp: (registry: string) => boolean = () => false,
  ) {}

  /** The Authorization header for a request needing `scope`, if we know one already. */
  cachedHeader(
    registry: string,
    credentials: Credentials | undefined,
    scope: string,
  ): string | undefined {
    const scheme = this.#schemes.get(registry);
    if (scheme === 'basic') return credentials && basicHeader(credentials);
    if (scheme !== 'bearer') return undefined;
    const key = tokenKey(registry, credentials, scope);
    const t = this.#tokens.get(key);
    if (t && t.expiresAt > Date.now()) return `Bearer ${t.value}`;
    if (t) this.#tokens.delete(key);
    return undefined;
  }

  /**
   * Handles a 401's challenge; returns the Authorization header to retry with. Throws an
   * InvalidInputError if there is nothing we can answer with.
   */
  async answer(
    registry: string,
    credentials: Credentials | undefined,
    wwwAuthenticate: string | null,
    scope: string,
    what: string,
  ): Promise<string> {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.#schemes.set(registry, 'bearer');
      const token = await this.#fetchToken(registry, credentials, bearer.params, scope, what);
      return `Bearer ${token}`;
    }
    if (basic) {
      this.#schemes.set(registry, 'basic');
      if (!credentials)
        throw new InvalidInputError(
          `unauthorized: ${what} needs a username and password for ${registry}`,
        );
      return basicHeader(credentials);
    }
    throw new InvalidInputError(
      `unauthorized: ${registry} answered 401 without a challenge we support (${wwwAuthenticate ?? 'no WWW-Authenticate'})`,
    );
  }

  async #fetchToken(
    registry: string,
    credentials: Credentials | undefined,
    params: Record<string, string>,
    scope: string,
    what: string,
  ): Promise<string> {
    const realm = params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw new InvalidInputError(
        `unauthorized: ${registry} sent a bearer challenge without a valid realm (${JSON.stringify(realm)})`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new InvalidInputError(`unauthorized: token realm ${realm} is not http(s)`);
    // Credentials (and the token) would cross the network in clear text.
    if (url.protocol === 'http:' && !this.plainHttp(registry))
      throw new InvalidInputError(
        `unauthorized: ${registry} names a token realm over plain http (${url.origin}); refused unless the registry is marked insecure (--insecure-registry)`,
      );
    if (params.service) url.searchParams.set('service', params.service);
    // The scope the registry names, else the one this request needs.
    if (params.scope || scope) url.searchParams.set('scope', params.scope || scope);
    const headers: Record<string, string> = {};
    if (credentials) headers.authorization = basicHeader(credentials);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { headers, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new UnavailableError(
        `cannot reach token service ${url.origin} for ${registry}: ${causeText(e)}`,
      );
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new InvalidInputError(
        `unauthorized: token service ${url.origin} refused ${credentials ? `the credentials of ${credentials.username}` : 'anonymous access'} for ${what}`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UnavailableError(`token service ${url.origin} answered ${res.status} for ${what}`);
    }
    const reply = await readCapped(res, MAX_TOKEN_BODY);
    if (reply.more)
      throw new UnavailableError(
        `token service ${url.origin} sent a reply larger than ${MAX_TOKEN_BODY} bytes: refused`,
      );
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(reply.bytes.toString('utf8')) as Record<string, unknown>;
      if (typeof body !== 'object' || body === null) throw new Error('not an object');
    } catch {
      throw new UnavailableError(`token service ${url.origin} sent a reply that is not JSON`);
    }
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '')
      throw new UnavailableError(`token service ${url.origin} sent no token`);
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 60;
    // Renew a little early: a token that expires mid-request is a failed pull.
    this.#remember(tokenKey(registry, credentials, scope), {
      value: token,
      expiresAt: Date.now() + Math.max(lifetime - 10, 5) * 1000,
    });
    return token;
  }

  #remember(key: string, token: CachedToken): void {
    this.#tokens.delete(key);
    if (this.#tokens.size >= maxTokens) {
      const now = Date.now();
      for (const [k, t] of this.#tokens) if (t.expiresAt <= now) this.#tokens.delete(k);
      // Still full: a Map iterates in insertion order, so the first is the oldest.
      if (this.#tokens.size >= maxTokens)
        this.#tokens.delete(this.#tokens.keys().next().value as string);
    }
    this.#tokens.set(key, token);
  }
}

/**
 * The cache key of a token: registry, scope, and who asked — the username and a hash of the
 * password, so a token earned with one password is never handed to a pull with another (and
 * the password itself is not kept as a key).
 */
function tokenKey(registry: string, c: Credentials | undefined, scope: string): string {
  const who = c ? `${c.username}\0${createHash('sha256').update(c.password).digest('hex')}` : '';
  return `${registry}\0${who}\0${scope}`;
}

/** The Authorization header of HTTP basic credentials. */
export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The short reason of a failed fetch: `ECONNREFUSED`, `getaddrinfo ENOTFOUND host`. */
export function causeText(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return (e as Error).message ?? String(e);
}
