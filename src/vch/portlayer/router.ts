// The portlayer's routes (src/api/portlayer/routes.ts) to their handlers; the first pattern that
// matches wins, so specific paths (/containers/list) go before general ones (/containers/{id}).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route } from '../../api/portlayer/index.js';
import { HttpError } from './http.js';

export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  query: URLSearchParams;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

export type Handler = (ctx: Context) => Promise<void>;

export class Router {
  private readonly routes: { route: Route; pattern: RegExp; handler: Handler }[] = [];

  add(route: Route, handler: Handler): this {
    const source = route.path.replace(/\{\w+\}/g, '([^/]+)');
    this.routes.push({ route, pattern: new RegExp(`^${source}$`), handler });
    return this;
  }

  /** The routes served, in match order. */
  served(): Route[] {
    return this.routes.map((r) => r.route);
  }

  match(method: string, rawUrl: string) {
    const url = new URL(rawUrl, 'http://portlayer');
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (r.route.method !== method) continue;
      let params: string[];
      try {
        params = m.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        throw new HttpError(400, `malformed path ${JSON.stringify(url.pathname)}`);
      }
      return { handler: r.handler, params, query: url.searchParams };
    }
    if (pathMatched) throw new HttpError(405, `method ${method} not allowed on ${url.pathname}`);
    throw new HttpError(404, `no such route: ${method} ${url.pathname}`);
  }
}
