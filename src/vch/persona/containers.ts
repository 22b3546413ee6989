// Container routes: create, start, stop, kill, wait, delete, list, inspect and logs.
import { once } from 'node:events';
import { parseExposedPorts, parsePortBindings } from './ports.js';
import { parseTime } from '../../iolog/index.js';
import type { LogChunk } from '../../iolog/index.js';
import { conflict, errorKind, invalidInput } from '../errors.js';
import { checkBackend } from '../runtime-label.js';
import type { ContainerStatus, CreateContainerRequest, WaitCondition } from '../types.js';
import type { Vch } from '../vch.js';
import {
  parseFilters,
  queryBool,
  queryInt,
  readJson,
  sendEmpty,
  sendJson,
  writeFrame,
} from './http.js';
import { compareVersions, type Router } from './router.js';
import { securityOf } from './security-opts.js';
import { mountPoints, mountsOf } from './mounts.js';
import { namesOf } from './names.js';
import { containerInspect, containerSummary } from './shapes.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Docker's StrSlice: a string or a list of strings; null or absent is "not given". */
function strSlice(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw invalidInput(`invalid ${field}: want a string or a list of strings`);
}

function optString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalidInput(`invalid ${field}: want a string`);
  return v;
}

function optInt(v: unknown, field: string, min = 0): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw invalidInput(`invalid ${field}: want a whole number ≥ ${min}`);
  return v;
}

/** The create body (Docker's container config and host config) as a core request. */
export function parseCreateBody(
  body: Record<string, unknown>,
  name: string | null,
): CreateContainerRequest {
  const image = body.Image;
  if (typeof image !== 'string' || image === '') throw invalidInput('Image is required');
  const flag = (f: 'Tty' | 'OpenStdin' | 'StdinOnce') => {
    const v = body[f];
    if (v !== undefined && v !== null && typeof v !== 'boolean')
      throw invalidInput(`invalid ${f}: want true or false`);
    return v === true;
  };
  const stdio = {
    ...(flag('OpenStdin') && { stdin: true }),
    ...(flag('OpenStdin') && flag('StdinOnce') && { stdinOnce: true }),
    ...(flag('Tty') && { tty: true }),
  };
  const env = strSlice(body.Env, 'Env');
  for (const e of env ?? [])
    if (e === '' || e.startsWith('='))
      throw invalidInput(`invalid environment variable ${JSON.stringify(e)}`);
  const workingDir = optString(body.WorkingDir, 'WorkingDir');
  if (workingDir !== undefined && !workingDir.startsWith('/'))
    throw invalidInput(
      `the working directory '${workingDir}' is invalid, it needs to be an absolute path`,
    );
  let labels: Record<string, string> | undefined;
  if (body.Labels !== undefined && body.Labels !== null) {
    if (!isObject(body.Labels) || !Object.values(body.Labels).every((v) => typeof v === 'string'))
      throw invalidInput('invalid Labels: want an object of strings');
    labels = body.Labels as Record<string, string>;
  }
  const host = body.HostConfig ?? {};
  if (!isObject(host)) throw invalidInput('invalid HostConfig: want an object');
  const unsupported: [string, boolean][] = [['Privileged', host.Privileged === true]];
  for (const [what, used] of unsupported) if (used) throw invalidInput(`${what} not supported yet`);
  const runtime = checkBackend(optString(host.Runtime, 'HostConfig.Runtime'), '--runtime');
  const memory = optInt(host.Memory, 'HostConfig.Memory');
  const nanoCpus = optInt(host.NanoCpus, 'HostConfig.NanoCpus');
  const stopTimeout = optInt(body.StopTimeout, 'StopTimeout', -1);
  const cmd = strSlice(body.Cmd, 'Cmd');
  const entrypoint = strSlice(body.Entrypoint, 'Entrypoint');
  const user = optString(body.User, 'User');
  const stopSignal = optString(body.StopSignal, 'StopSignal');
  const hostname = optString(body.Hostname, 'Hostname');
  const security = securityOf(host);
  const groupAdd = strSlice(host.GroupAdd, 'HostConfig.GroupAdd');
  let sysctls: Record<string, string> | undefined;
  if (host.Sysctls !== undefined && host.Sysctls !== null) {
    if (!isObject(host.Sysctls) || !Object.values(host.Sysctls).every((v) => typeof v === 'string'))
      throw invalidInput('invalid HostConfig.Sysctls: want an object of strings');
    sysctls = host.Sysctls as Record<string, string>;
  }
  const ports = parsePortBindings(host);
  const exposedPorts = parseExposedPorts(body);
  const publishAllPorts = host.PublishAllPorts === true;
  const mounts = mountsOf(body, host);
  const names = namesOf(body, host);
  return {
    image,
    ...stdio,
    ...(name !== null && name !== '' && { name }),
    ...(cmd && { cmd }),
    // Docker's CLI sends [""] for `--entrypoint ""`: clear the image's entrypoint.
    ...(entrypoint && {
      entrypoint: entrypoint.filter((a, i) => !(i === 0 && a === '' && entrypoint.length === 1)),
    }),
    ...(env && { env }),
    ...(workingDir !== undefined && { workingDir }),
    ...(user !== undefined && { user }),
    ...(labels && { labels }),
    ...(stopSignal !== undefined && { stopSignal }),
    ...(stopTimeout !== undefined && stopTimeout >= 0 && { stopTimeout }),
    ...(memory && { memoryLimitBytes: memory }),
    ...(nanoCpus && { cpuMillis: Math.ceil(nanoCpus / 1_000_000) }),
    ...(hostname !== undefined && { hostname }),
    ...(host.AutoRemove === true && { autoRemove: true }),
    ...(runtime && { runtime }),
    ...(security && { security }),
    ...(groupAdd?.length && { groupAdd }),
    ...(sysctls && Object.keys(sysctls).length > 0 && { sysctls }),
    ...(ports.length > 0 && { ports }),
    ...(exposedPorts.length > 0 && { exposedPorts }),
    ...(publishAllPorts && { publishAllPorts }),
    ...(mounts.length > 0 && { mounts }),
    ...(names && { names }),
  };
}

const STATUSES = new Set([
  'created',
  'restarting',
  'running',
  'removing',
  'paused',
  'exited',
  'dead',
]);

/** `tail`: "all" (or empty) is everything; otherwise a whole number. */
function parseTail(v: string | null): number | undefined {
  if (v === null || v === '' || v === 'all') return undefined;
  if (!/^\d+$/.test(v))
    throw invalidInput(`invalid tail ${JSON.stringify(v)}: want a whole number or "all"`);
  return Number(v);
}

/** `since`/`until`: Unix seconds with a fraction (what the CLI sends), RFC 3339, or "0"/"" for none. */
function parseLogTime(v: string | null, what: string): bigint | undefined {
  if (v === null || v === '' || v === '0') return undefined;
  return parseTime(v, BigInt(Date.now()) * 1_000_000n, what);
}

export function addContainerRoutes(router: Router, vch: Vch): void {
  router.add('POST', '/containers/create', async ({ req, res, query }) => {
    const body = await readJson(req);
    const create = parseCreateBody(body, query.get('name'));
    // As Docker: a named volume that does not exist yet is made (local, on disk).
    for (const m of create.mounts ?? [])
      if (m.type === 'volume' && m.source)
        await vch.volumes.create({ name: m.source, driver: 'local' }).catch((e: unknown) => {
          if (errorKind(e) !== 'Conflict') throw e;
        });
    const c = await vch.createContainer(create);
    sendJson(res, 201, { Id: c.id, Warnings: [] });
  });

  router.add('POST', '/containers/{id}/start', async ({ res, params }) => {
    sendEmpty(res, (await vch.startContainer(params[0])) ? 204 : 304);
  });

  // The container's terminal (docker run -it, docker attach): through an attach session.
  router.add('POST', '/containers/{id}/resize', async ({ res, params, query }) => {
    const width = queryInt(query, 'w') ?? 0;
    const height = queryInt(query, 'h') ?? 0;
    if (!(width >= 0 && width <= 0xffff && height >= 0 && height <= 0xffff))
      throw invalidInput('terminal size out of range: w and h are 0..65535');
    const c = await vch.inspectContainer(params[0]);
    if (!c.config.tty)
      throw conflict(`container ${c.name} has no terminal (it was created without -t)`);
    // As Docker: a size of 0 (the CLI's before it knows one) changes nothing.
    if (width > 0 && height > 0 && c.status === 'running') {
      const s = await vch.attachSession(c.id, { stdin: false });
      s.resize({ width, height });
      s.close();
    }
    sendEmpty(res, 200);
  });

  router.add('POST', '/containers/{id}/stop', async ({ res, params, query }) => {
    const t = queryInt(query, 't');
    const signal = query.get('signal') || undefined;
    const stopped = await vch.stopContainer(params[0], {
      ...(t !== undefined && t >= 0 && { timeoutSeconds: t }),
      ...(signal && { signal }),
    });
    sendEmpty(res, stopped ? 204 : 304);
  });

  router.add('POST', '/containers/{id}/restart', async ({ res, params, query }) => {
    const t = queryInt(query, 't');
    const signal = query.get('signal') || undefined;
    await vch.restartContainer(params[0], {
      ...(t !== undefined && t >= 0 && { timeoutSeconds: t }),
      ...(signal && { signal }),
    });
    sendEmpty(res, 204);
  });

  router.add('POST', '/containers/{id}/kill', async ({ res, params, query }) => {
    await vch.killContainer(params[0], query.get('signal') || 'SIGKILL');
    sendEmpty(res, 204);
  });

  router.add('POST', '/containers/{id}/wait', async ({ res, params, query, signal }) => {
    const condition = (query.get('condition') || 'not-running') as WaitCondition;
    if (!['not-running', 'next-exit', 'removed'].includes(condition))
      throw invalidInput(
        `invalid condition ${JSON.stringify(condition)}: want not-running, next-exit or removed`,
      );
    // Look the container up first, so a missing one is a plain 404.
    await vch.inspectContainer(params[0]);
    const waiting = vch.waitContainer(params[0], condition, signal);
    // Headers now: the CLI knows the wait is in place before it starts the container.
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    let r;
    try {
      r = await waiting;
    } catch {
      res.destroy(); // the client went away
      return;
    }
    // Error is for a wait that went wrong (the CLI reports it and exits 125), not for how the
    // container ended: an OOM kill or a SIGKILL is its exit code, as with dockerd.
    const failed = r.error !== undefined && r.error !== 'OOMKilled' && r.error !== 'Killed';
    res.end(
      `${JSON.stringify({ StatusCode: r.exitCode, Error: failed ? { Message: r.error } : null })}\n`,
    );
  });

  router.add('POST', '/containers/{id}/attach', async () => {
    throw invalidInput(
      'attach needs a hijacked connection: send Connection: Upgrade, Upgrade: tcp',
    );
  });

  router.add('DELETE', '/containers/{id}', async ({ res, params, query }) => {
    await vch.removeContainer(params[0], { force: queryBool(query, 'force') });
    sendEmpty(res, 204);
  });

  router.add('GET', '/containers/json', async ({ res, query }) => {
    const filters = parseFilters(query);
    for (const k of filters.keys())
      if (!['name', 'id', 'status', 'label'].includes(k))
        throw invalidInput(`invalid filter '${k}'`);
    const statuses = filters.get('status') ?? [];
    for (const s of statuses)
      if (!STATUSES.has(s)) throw invalidInput(`invalid filter 'status=${s}'`);
    let list = await vch.listContainers({
      all: queryBool(query, 'all'),
      ...(filters.has('name') && { names: filters.get('name') }),
      ...(filters.has('id') && { ids: filters.get('id') }),
      ...(statuses.length > 0 && {
        // Statuses this VCH never has match nothing (but a list with only them is not "any").
        statuses: statuses.filter((s) =>
          ['created', 'running', 'exited'].includes(s),
        ) as ContainerStatus[],
      }),
      ...(filters.has('label') && { labels: filters.get('label') }),
    });
    if (statuses.length > 0 && !statuses.some((s) => ['created', 'running', 'exited'].includes(s)))
      list = [];
    const limit = queryInt(query, 'limit');
    if (limit !== undefined && limit > 0) list = list.slice(0, limit);
    const now = Date.now();
    sendJson(
      res,
      200,
      list.map((c) => containerSummary(c, now)),
    );
  });

  router.add('GET', '/containers/{id}/json', async ({ res, params }) => {
    const c = await vch.inspectContainer(params[0]);
    const image = await vch.inspectImage(c.imageId).catch(() => undefined);
    sendJson(res, 200, { ...containerInspect(c, image), Mounts: mountPoints(vch, c) });
  });

  router.add('GET', '/containers/{id}/logs', async ({ res, params, query, signal, apiVersion }) => {
    const stdout = queryBool(query, 'stdout');
    const stderr = queryBool(query, 'stderr');
    if (!stdout && !stderr)
      throw invalidInput('Bad parameters: you must choose at least one stream');
    const since = parseLogTime(query.get('since'), 'since');
    const until = parseLogTime(query.get('until'), 'until');
    const tail = parseTail(query.get('tail'));
    const follow = queryBool(query, 'follow');
    // With a terminal the log is one raw stream, as Docker serves it.
    const tty = (await vch.inspectContainer(params[0])).config.tty === true;
    const logs = await vch.logs(params[0], {
      stream: stdout && stderr ? 'all' : stdout ? 'stdout' : 'stderr',
      ...(since !== undefined && { since }),
      ...(until !== undefined && { until }),
      ...(tail !== undefined && { tail }),
      timestamps: queryBool(query, 'timestamps'),
      follow,
      signal,
    });
    res.writeHead(200, {
      'Content-Type':
        !tty && compareVersions(apiVersion, '1.42') >= 0
          ? 'application/vnd.docker.multiplexed-stream'
          : 'application/vnd.docker.raw-stream',
    });
    res.flushHeaders();
    try {
      for await (const chunk of logs as AsyncIterable<LogChunk>) {
        if (tty) {
          if (!res.write(chunk.data)) await once(res, 'drain', { signal });
        } else if (!(await writeFrame(res, chunk))) break;
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    } finally {
      logs.destroy();
    }
    res.end();
  });
}
