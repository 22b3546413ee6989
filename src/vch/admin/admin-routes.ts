// The admin page's routes on the VCH's listener: GET /admin (the page), /admin/admin.css and
// /admin/admin.js (its assets), /admin/logs/{id}?tail=N (a container's last lines, as text).
// Read-only: nothing here changes the VCH. Errors answer as text, one line.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { HttpError, answerMessage, serveRequest, statusOf, type Edge } from '../http-edge.js';
import type { VchLogger } from '../services/context.js';
import type { Vch } from '../vch.js';
import type { ContainerInfo } from '../types.js';
import { ADMIN_CSS, ADMIN_JS } from './admin-assets.js';
import { ADMIN_PATH, renderAdminPage } from './admin-page.js';

/** Lines the page tails by default, and the most a request may ask for. */
const DEFAULT_TAIL = 100;
const MAX_TAIL = 5000;
/** A tail is cut at this many bytes: a page, not a download. */
const MAX_TAIL_BYTES = 512 * 1024;

/**
 * The page may run scripts and styles from this origin only (never inline), talk to this
 * origin only, and never be framed: a hostile container's text cannot become a running script,
 * and another site cannot overlay the page to trick a click.
 */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export function isAdminPath(path: string): boolean {
  return path === ADMIN_PATH || path.startsWith(`${ADMIN_PATH}/`);
}

export function adminHandler(
  vch: Vch,
  o: { logger?: VchLogger } = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const edge: Edge = {
    what: 'admin request',
    ...(o.logger && { log: o.logger }),
    sendError: (res, err) => {
      if (res.headersSent) return void res.destroy();
      const status = statusOf(err);
      send(res, status, 'text/plain; charset=utf-8', `${answerMessage(err, status)}\n`);
    },
  };
  return (req, res) =>
    serveRequest(req, res, edge, async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new HttpError(405, `the admin page is read-only: ${req.method} is not allowed`);
      checkHost(req);
      const url = new URL(req.url ?? '/', 'http://vch');
      const path = url.pathname;
      if (path === ADMIN_PATH || path === `${ADMIN_PATH}/`) return page(vch, url, res);
      if (path === `${ADMIN_PATH}/admin.css`)
        return send(res, 200, 'text/css; charset=utf-8', ADMIN_CSS);
      if (path === `${ADMIN_PATH}/admin.js`)
        return send(res, 200, 'text/javascript; charset=utf-8', ADMIN_JS);
      const m = /^\/admin\/logs\/([^/]+)$/.exec(path);
      if (m) return tail(vch, decodeURIComponent(m[1]), url, res);
      throw new HttpError(404, `no admin page at ${path}`);
    });
}

/**
 * DNS rebinding: a web page on some site can point its own name at 127.0.0.1 and then read this
 * page as same-origin. Such a request carries that site's name in Host; a user's browser pointed
 * at the VCH names it by address or as localhost. (Over the unix socket there is no browser.)
 */
function checkHost(req: IncomingMessage): void {
  const raw = req.headers.host;
  if (raw === undefined) return;
  const host = raw.startsWith('[') ? raw.slice(1, raw.indexOf(']')) : raw.replace(/:\d+$/, '');
  if (host === 'localhost' || isIP(host) !== 0) return;
  throw new HttpError(
    403,
    `the admin page answers only requests for an IP address or localhost, not ${JSON.stringify(raw)}`,
  );
}

async function page(vch: Vch, url: URL, res: ServerResponse): Promise<void> {
  const [info, pods, containers, images] = await Promise.all([
    vch.info(),
    vch.listPods(),
    vch.listContainers({ all: true }),
    vch.listImages(),
  ]);
  const wanted = url.searchParams.get('log');
  let tailed: ContainerInfo | undefined;
  if (wanted !== null) {
    tailed = containers.find((c) => c.id === wanted);
    if (!tailed) throw new HttpError(404, `no container with id ${JSON.stringify(wanted)}`);
  } else tailed = latestStarted(containers);
  const log = tailed && { container: tailed, text: await lastLines(vch, tailed.id, DEFAULT_TAIL) };
  send(
    res,
    200,
    'text/html; charset=utf-8',
    renderAdminPage({ info, pods, containers, images, ...(log && { log }) }),
  );
}

/** The running container started last, else the one started last: what a visitor looks for. */
function latestStarted(containers: ContainerInfo[]): ContainerInfo | undefined {
  const started = containers.filter((c) => c.startedAt);
  const order = (a: ContainerInfo, b: ContainerInfo) => (b.startedAt! > a.startedAt! ? 1 : -1);
  return started.filter((c) => c.status === 'running').sort(order)[0] ?? started.sort(order)[0];
}

async function tail(vch: Vch, id: string, url: URL, res: ServerResponse): Promise<void> {
  const raw = url.searchParams.get('tail');
  let n = DEFAULT_TAIL;
  if (raw !== null) {
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_TAIL)
      throw new HttpError(
        400,
        `tail must be a whole number from 1 to ${MAX_TAIL}, not ${JSON.stringify(raw)}`,
      );
    n = Number(raw);
  }
  send(res, 200, 'text/plain; charset=utf-8', await lastLines(vch, id, n));
}

async function lastLines(vch: Vch, id: string, n: number): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await vch.logs(id, {
    tail: n,
    timestamps: true,
    limitBytes: MAX_TAIL_BYTES,
  }))
    chunks.push(Buffer.from((c as { data: Uint8Array }).data));
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
