// The OCI distribution client: manifests and blobs of a repository over HTTP(S), with the
// registry's authentication challenges answered with the credentials of the pull at hand
// (each call takes its own; nothing of one pull's credentials serves another). It fetches and
// checks; storing is the content store's job.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { type Credentials, type FetchLike, RegistryAuth, causeText } from './auth.js';
import { type Digest, sha256Of } from './digest.js';
import { ImageError, InvalidInputError, NotFoundError, UnavailableError } from './errors.js';
import { MAX_ERROR_BODY, readCapped, readLimited } from './http-body.js';
import { maxDocumentSize } from './manifest.js';
import { manifestAccept } from './media-types.js';
import { type ImageReference, repositoryName } from './reference.js';

export interface RegistryOptions {
  /**
   * Registries (`host:port` as in references) spoken to over plain HTTP, like dockerd's
   * --insecure-registry. Loopback registries (localhost, 127.0.0.0/8, [::1]) always are.
   */
  insecureRegistries?: readonly string[];
  /**
   * Node-wide credentials for a registry host, used by calls that bring none (like dockerd's
   * config.json). A call's own credentials always win. The VCH sets none: a pull without a
   * secret goes anonymously.
   */
  credentials?: (registry: string) => Credentials | undefined;
  /** The fetch to use; tests pass one that counts requests. Defaults to the global fetch. */
  fetch?: FetchLike;
  /** How long to wait for a registry's response headers, or for the next bytes of a blob. 30 s. */
  timeoutMs?: number;
  /**
   * Times a request the registry answers 429, 502, 503 or 504 is sent again (default 2),
   * after the wait its Retry-After asks for, else 0.5 s, then 1 s, …
   */
  retries?: number;
  /** The longest Retry-After honoured; a registry that asks for more fails the pull. 10 s. */
  maxRetryDelayMs?: number;
}

/** The statuses that say "try again later". */
const retryStatuses = new Set([429, 502, 503, 504]);

/** Retry-After (seconds or an HTTP date) in ms, or undefined if absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface FetchedManifest {
  bytes: Buffer;
  digest: Digest;
  contentType: string | undefined;
}

const userAgent = 'vic-kubelet-image/0.1';

/** Whether `registry` (host[:port]) is this machine. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export class RegistryClient {
  readonly #auth: RegistryAuth;
  readonly #fetch: FetchLike;

  constructor(readonly options: RegistryOptions = {}) {
    this.#fetch = options.fetch ?? fetch;
    // A token realm over plain http is asked only for a registry spoken to over plain http.
    this.#auth = new RegistryAuth(this.#fetch, (registry) =>
      this.baseUrl(registry).startsWith('http:'),
    );
  }

  /** `https://host` or, for insecure and loopback registries, `http://host`. */
  baseUrl(registry: string): string {
    const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
    const plain =
      isLoopbackRegistry(registry) || (this.options.insecureRegistries ?? []).includes(registry);
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  /**
   * One request to `/v2/<repository>/<path>`, answering one auth challenge. Maps transport
   * errors and statuses to errors with kinds; returns only 2xx responses.
   */
  async #request(
    ref: ImageReference,
    method: 'GET' | 'HEAD',
    path: string,
    headers: Record<string, string>,
    what: string,
    given: Credentials | undefined,
  ): Promise<Response> {
    const url = `${this.baseUrl(ref.registry)}/v2/${ref.repository}/${path}`;
    const scope = `repository:${ref.repository}:pull`;
    const credentials = given ?? this.options.credentials?.(ref.registry);
    const auth = this.#auth;
    let authorization = auth.cachedHeader(ref.registry, credentials, scope);
    let retried = 0;
    for (let attempt = 0; ; attempt++) {
      const res = await this.#send(
        url,
        method,
        { ...headers, ...(authorization && { authorization }) },
        ref,
      );
      if (retryStatuses.has(res.status) && retried < (this.options.retries ?? 2)) {
        const asked = retryAfterMs(res.headers.get('retry-after'));
        const wait = asked ?? 500 * 2 ** retried;
        if (wait <= (this.options.maxRetryDelayMs ?? 10_000)) {
          await res.body?.cancel();
          await new Promise((r) => setTimeout(r, wait));
          retried++;
          attempt--;
          continue;
        }
      }
      if (res.status === 401 && attempt === 0) {
        const sent = authorization;
        try {
          authorization = await auth.answer(
            ref.registry,
            credentials,
            res.headers.get('www-authenticate'),
            scope,
            what,
          );
        } catch (e) {
          await res.body?.cancel();
          throw e;
        }
        // Basic credentials sent already and refused: asking again would only be refused again.
        if (authorization !== sent) {
          await res.body?.cancel();
          continue;
        }
      }
      if (res.ok) return res;
      const detail = method === 'GET' ? await errorDetail(res) : '';
      const name = repositoryName(ref);
      switch (res.status) {
        case 401:
          throw new InvalidInputError(
            `unauthorized: ${ref.registry} refused ${credentials ? `the credentials of ${credentials.username}` : 'anonymous access'} to ${name}${detail}`,
          );
        case 403:
          throw new InvalidInputError(`denied: ${ref.registry} denies access to ${name}${detail}`);
        case 404:
          throw new NotFoundError(`${what} not found in ${ref.registry}${detail}`);
        default:
          if (res.status === 429 || res.status >= 500)
            throw new UnavailableError(
              `${ref.registry} answered ${res.status} for ${what}${detail}`,
            );
          throw new InvalidInputError(
            `${ref.registry} answered ${res.status} for ${what}${detail}`,
          );
      }
    }
  }

  async #send(
    url: string,
    method: string,
    headers: Record<string, string>,
    ref: ImageReference,
  ): Promise<Response> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.options.timeoutMs ?? 30_000);
    try {
      return await this.#fetch(url, {
        method,
        headers: { 'user-agent': userAgent, ...headers },
        redirect: 'follow',
        signal: ctl.signal,
      });
    } catch (e) {
      if (e instanceof ImageError) throw e;
      const why = ctl.signal.aborted ? 'no answer in time' : causeText(e);
      throw new UnavailableError(`cannot reach registry ${ref.registry}: ${why}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The digest a tag (or digest) points to, from a HEAD request's Docker-Content-Digest, or
   * undefined if the registry does not say. Lets a repeated pull skip the manifest download.
   */
  async headManifest(
    ref: ImageReference,
    tagOrDigest: string,
    credentials?: Credentials,
  ): Promise<Digest | undefined> {
    const res = await this.#request(
      ref,
      'HEAD',
      `manifests/${tagOrDigest}`,
      { accept: manifestAccept },
      `manifest ${repositoryName(ref)}${tagOrDigest.startsWith('sha256:') ? '@' : ':'}${tagOrDigest}`,
      credentials,
    );
    const d = res.headers.get('docker-content-digest');
    return d && /^sha256:[0-9a-f]{64}$/.test(d) ? (d as Digest) : undefined;
  }

  /**
   * Fetches a manifest or index by tag or digest. The bytes are checked against the digest
   * asked for, or for a tag against the registry's Docker-Content-Digest when it sends one.
   */
  async getManifest(
    ref: ImageReference,
    tagOrDigest: string,
    credentials?: Credentials,
  ): Promise<FetchedManifest> {
    const name = `${repositoryName(ref)}${tagOrDigest.startsWith('sha256:') ? '@' : ':'}${tagOrDigest}`;
    const res = await this.#request(
      ref,
      'GET',
      `manifests/${tagOrDigest}`,
      { accept: manifestAccept },
      `manifest ${name}`,
      credentials,
    );
    const bytes = await readLimited(res, maxDocumentSize, `manifest ${name}`);
    const digest = sha256Of(bytes);
    const claimed = tagOrDigest.startsWith('sha256:')
      ? tagOrDigest
      : res.headers.get('docker-content-digest');
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest)
      throw new InvalidInputError(
        `digest mismatch for manifest ${name}: expected ${claimed}, content hashes to ${digest}`,
      );
    return { bytes, digest, contentType: res.headers.get('content-type') ?? undefined };
  }

  /** Opens a blob's bytes; the content store verifies them as they arrive. */
  async openBlob(
    ref: ImageReference,
    digest: Digest,
    credentials?: Credentials,
  ): Promise<AsyncIterable<Uint8Array>> {
    const res = await this.#request(
      ref,
      'GET',
      `blobs/${digest}`,
      {},
      `blob ${digest} of ${repositoryName(ref)}`,
      credentials,
    );
    if (!res.body) throw new UnavailableError(`${ref.registry} sent blob ${digest} without a body`);
    return brokenOffAsUnavailable(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      `download of blob ${digest} from ${ref.registry} broke off`,
      this.options.timeoutMs ?? 30_000,
    );
  }
}

/**
 * The chunks of `source`; a transport error midway, or `idleMs` without a byte (a stalled
 * connection would otherwise hold the pull forever), becomes an UnavailableError.
 */
async function* brokenOffAsUnavailable(
  source: Readable,
  what: string,
  idleMs: number,
): AsyncIterable<Uint8Array> {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => source.destroy(new UnavailableError(`${what}: nothing arrived for ${idleMs} ms`)),
      idleMs,
    );
  };
  try {
    arm();
    for await (const chunk of source) {
      arm();
      yield chunk as Uint8Array;
    }
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new UnavailableError(`${what}: ${causeText(e)}`, { cause: e });
  } finally {
    clearTimeout(timer);
    source.destroy();
  }
}

/** The registry's error message (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":…}]}`). */
async function errorDetail(res: Response): Promise<string> {
  try {
    const text = (await readCapped(res, MAX_ERROR_BODY)).bytes.toString('utf8');
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = body.errors?.[0];
    if (first) return ` (${[first.code, first.message].filter(Boolean).join(': ')})`;
  } catch {}
  return '';
}
