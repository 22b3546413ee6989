// `docker cp`: the archive endpoints of Docker's API, over a running container's own view of its
// files (runtime/runc/container-archive.ts: nothing resolves on the host, so a symlink the
// container planted never leads out of it).
//   HEAD /containers/{id}/archive?path=P   the stat of P in X-Docker-Container-Path-Stat
//   GET  /containers/{id}/archive?path=P   a tar of P (the same header)
//   PUT  /containers/{id}/archive?path=D   extracts the body (a tar) into the directory D
//        [&noOverwriteDirNonDir=B&copyUIDGID=B]
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { invalidInput } from '../errors.js';
import type { PathStat } from '../../runtime/runtime.js';
import type { Vch } from '../vch.js';
import { sendEmpty } from './http.js';
import type { Context, Router } from './router.js';

export const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';

/** Go's os.FileMode bits (what the docker CLI reads in a stat's `mode`). */
const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
};

/** st_mode → Go's FileMode, as Go's os.Stat makes it. */
export function goFileMode(stMode: number): number {
  let m = stMode & 0o777;
  switch (stMode & 0o170000) {
    case 0o040000:
      m += GO_MODE.dir;
      break;
    case 0o120000:
      m += GO_MODE.symlink;
      break;
    case 0o060000:
      m += GO_MODE.device;
      break;
    case 0o020000:
      m += GO_MODE.device + GO_MODE.charDevice;
      break;
    case 0o010000:
      m += GO_MODE.namedPipe;
      break;
    case 0o140000:
      m += GO_MODE.socket;
      break;
  }
  if (stMode & 0o4000) m += GO_MODE.setuid;
  if (stMode & 0o2000) m += GO_MODE.setgid;
  if (stMode & 0o1000) m += GO_MODE.sticky;
  return m;
}

/** RFC 3339 with nanoseconds, as Go's time.Time marshals. */
function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, frac ? `.${frac}Z` : 'Z');
}

/** Docker's container.PathStat, base64 JSON for the header. */
export function pathStatHeader(path: string, s: PathStat): string {
  const trimmed = path.replace(/\/+$/, '');
  const stat = {
    name: trimmed === '' ? '/' : posix.basename(trimmed),
    size: s.size,
    mode: goFileMode(s.mode),
    mtime: rfc3339Nano(s.mtimeNs),
    linkTarget: s.linkTarget ?? '',
  };
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** The `path` query value: required; a relative one is taken from the container's root. */
export function archivePath(query: URLSearchParams): string {
  const all = query.getAll('path');
  if (all.length !== 1 || all[0] === '')
    throw invalidInput('bad parameter: exactly one non-empty path is required');
  const p = all[0]!;
  if (p.includes('\0')) throw invalidInput('bad parameter: path has a NUL byte');
  if (p.length > 4096) throw invalidInput('bad parameter: path is over 4096 bytes');
  return p.startsWith('/') ? p : `/${p}`;
}

/** A boolean query value, strictly: absent, "", 0/1, true/false (any case); 400 otherwise. */
export function strictBool(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === '') return false;
  const s = v.toLowerCase();
  if (s === '1' || s === 'true') return true;
  if (s === '0' || s === 'false') return false;
  throw invalidInput(`bad parameter: ${name} ${JSON.stringify(v)} is not a boolean`);
}

export function addArchiveRoutes(router: Router, vch: Vch): void {
  const stat = async ({ params, query }: Context) => {
    const path = archivePath(query);
    return { path, header: pathStatHeader(path, await vch.statContainerPath(params[0]!, path)) };
  };
  router.add('HEAD', '/containers/{id}/archive', async (ctx) => {
    const { header } = await stat(ctx);
    ctx.res.setHeader(PATH_STAT_HEADER, header);
    sendEmpty(ctx.res, 200);
  });
  router.add('GET', '/containers/{id}/archive', async (ctx) => {
    const { path, header } = await stat(ctx);
    const tar = await vch.containerArchive(ctx.params[0]!, path);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar', [PATH_STAT_HEADER]: header });
    // A tar that fails part way cuts the response (the client sees a short archive).
    await pipeline(tar, ctx.res, { signal: ctx.signal });
  });
  router.add('PUT', '/containers/{id}/archive', async ({ req, res, params, query }) => {
    const dir = archivePath(query);
    // The docker CLI always sends noOverwriteDirNonDir=true: busybox's tar never replaces a
    // directory by a non-directory nor the reverse (the extraction fails), so both are that.
    strictBool(query, 'noOverwriteDirNonDir');
    const keepOwner = strictBool(query, 'copyUIDGID');
    await vch.extractToContainer(params[0]!, dir, req, keepOwner);
    sendEmpty(res, 200);
  });
}
