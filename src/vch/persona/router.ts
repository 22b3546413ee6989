// The persona's routes: method and path pattern to handler. Paths may carry Docker's version
// prefix (/v1.43/containers/json); a version newer or older than we speak is refused with 400,
// as dockerd does. Every request answers with the API-Version headers the CLI negotiates from.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http.js';

export const MAX_API_VERSION = '1.43';
export const MIN_API_VERSION = '1.24';

export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  /** The pattern's capture groups, URI-decoded. */
  params: string[];
  query: URLSearchParams;
  /** The version the client asked for (the prefix), or our maximum. */
  apiVersion: string;
  /** Aborts when the client goes away before the response ends. */
  signal: AbortSignal;
}

export type Handler = (ctx: Context) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}

export class Router {
  readonly #routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    // `{x}` is one path segment; `{x*}` is the rest of the path (image names have slashes).
    const source = path.replace(/\{\w+\*\}/g, '(.+)').replace(/\{\w+\}/g, '([^/]+)');
    this.#routes.push({ method, pattern: new RegExp(`^${source}$`), handler });
    return this;
  }

  /** The path without the version prefix, the query, and the version; 400 for a bad version. */
  parse(rawUrl: string): { path: string; query: URLSearchParams; apiVersion: string } {
    const url = new URL(rawUrl, 'http://persona');
    let path = url.pathname;
    let apiVersion = MAX_API_VERSION;
    const v = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (v) {
      apiVersion = v[1];
      path = v[2];
      if (compareVersions(apiVersion, MAX_API_VERSION) > 0)
        throw new HttpError(
          400,
          `client version ${apiVersion} is too new. Maximum supported API version is ${MAX_API_VERSION}`,
        );
      if (compareVersions(apiVersion, MIN_API_VERSION) < 0)
        throw new HttpError(
          400,
          `client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
        );
    }
    return { path, query: url.searchParams, apiVersion };
  }

  /** Finds the handler of a request; throws HttpError 404/405/400 when there is none. */
  match(
    method: string,
    rawUrl: string,
  ): { handler: Handler; params: string[]; query: URLSearchParams; apiVersion: string } {
    const { path, query, apiVersion } = this.parse(rawUrl);
    let pathMatched = false;
    for (const r of this.#routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
      const params = m.slice(1).map((p) => decodePathPart(p, path));
      return { handler: r.handler, params, query, apiVersion };
    }
    if (pathMatched) throw new HttpError(405, `method ${method} not allowed on ${path}`);
    throw new HttpError(404, `page not found: ${method} ${path}`);
  }
}

/** One %-encoded part of a path; 400 for a malformed escape. */
export function decodePathPart(part: string, path: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HttpError(400, `malformed path ${JSON.stringify(path)}`);
  }
}
