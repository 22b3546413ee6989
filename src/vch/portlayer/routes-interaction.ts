// An attached exec's streams, VIC's interaction API per exec task id: `GET …/stdout` and
// `…/stderr` stream its output (raw bytes, as they come, until it ends), `POST …/stdin` feeds
// its input (the body; its end closes stdin), `DELETE …/stdin` closes it, `POST …/resize`
// resizes its terminal. A client that goes away from stdout before the end kills the exec
// (kubectl's connection dropped): nothing else would ever read it.
//
// A task's own id (not an exec's) is its container's own session, VIC's attach to the
// container: `…/stdout` and `…/stderr` stream what it writes from now on (its log, followed)
// until it exits or the client goes; `…/stdin` feeds its stdin through one attach session to
// its tether (created with openStdin); `…/resize` resizes its terminal (created with tty).
import { pipeline } from 'node:stream/promises';
import { ROUTES } from '../../api/portlayer/index.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LogChunk } from '../../iolog/index.js';
import { conflict, invalidInput, notFound } from '../errors.js';
import type { ContainerInfo } from '../types.js';
import type { Vch } from '../vch.js';
import type { Directory } from './directory.js';
import type { ExecTasks } from './exec-tasks.js';
import { queryInt, sendJson } from './http.js';
import type { Context, Router } from './router.js';

export function addInteractionRoutes(
  router: Router,
  execs: ExecTasks,
  vch: Vch,
  dir: Directory,
): void {
  /** The container (core id) of a task id that is not an exec's: its own session. */
  const taskOf = async (id: string) => {
    const c = await dir.task(id);
    if (!c) throw notFound(`no attached exec or task ${id}`);
    return c;
  };
  const output =
    (which: 'stdout' | 'stderr') =>
    async ({ res, params, req }: Context) => {
      if (!execs.has(params[0]!)) return taskOutput(vch, await taskOf(params[0]!), which, req, res);
      const s = execs.take(params[0]!, which);
      const from = which === 'stdout' ? s.stdout : s.stderr;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.flushHeaders();
      if (!from) return void res.end(); // a terminal has no stderr
      try {
        await pipeline(from, res);
      } catch {
        if (which === 'stdout') s.kill();
      }
    };
  router.add(ROUTES.interactionStdout, output('stdout'));
  router.add(ROUTES.interactionStderr, output('stderr'));

  router.add(ROUTES.interactionStdin, async ({ req, res, params }) => {
    if (!execs.has(params[0]!)) {
      // A task's own stdin: one attach session for this request; its body's end is the
      // session's input's end (stdinOnce), as is the client going away.
      const c = await taskOf(params[0]!);
      const ac = new AbortController();
      req.once('close', () => ac.abort());
      const session = await vch.attachSession(c.id, { stdin: true, signal: ac.signal });
      try {
        await new Promise<void>((resolve) => {
          session.stdin!.once('finish', resolve);
          session.stdin!.once('close', resolve);
          req.once('close', resolve);
          req.pipe(session.stdin!);
        });
      } finally {
        session.close();
      }
      return sendJson(res, 200, undefined);
    }
    const s = execs.take(params[0]!, 'stdin');
    // The process may be gone before its input is: what is left is moot, not an error.
    await pipeline(req, s.stdin!).catch(() => undefined);
    sendJson(res, 200, undefined);
  });

  router.add(ROUTES.interactionCloseStdin, async ({ res, params }) => {
    const s = execs.running(params[0]!);
    s.stdin?.end();
    sendJson(res, 200, undefined);
  });

  router.add(ROUTES.interactionResize, async ({ res, params, query }) => {
    const width = queryInt(query, 'width', 0, true)!;
    const height = queryInt(query, 'height', 0, true)!;
    if (width > 0xffff || height > 0xffff)
      throw invalidInput(`terminal size ${width}x${height}: at most 65535 either way`);
    if (execs.has(params[0]!)) execs.running(params[0]!).resize({ width, height });
    else {
      const c = await taskOf(params[0]!);
      if (!c.config.tty) throw conflict(`task ${params[0]} has no terminal`);
      if (width > 0 && height > 0) {
        const session = await vch.attachSession(c.id, { stdin: false });
        session.resize({ width, height });
        session.close();
      }
    }
    sendJson(res, 200, undefined);
  });
}

/** A task's output from now on, raw, until it exits or the client goes away. */
async function taskOutput(
  vch: Vch,
  c: ContainerInfo,
  which: 'stdout' | 'stderr',
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const ac = new AbortController();
  res.once('close', () => ac.abort());
  req.once('close', () => ac.abort());
  // With a terminal there is only stdout.
  const only = c.config.tty ? 'stdout' : which;
  res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
  res.flushHeaders();
  if (only !== which) return void res.end();
  const out = await vch.attach(c.id, { stream: only, signal: ac.signal });
  try {
    for await (const chunk of out as AsyncIterable<LogChunk>) {
      if (!res.write(chunk.data))
        await new Promise((r) => {
          res.once('drain', r);
          res.once('close', r);
        });
      if (res.destroyed) break;
    }
  } catch {
    // The client went away: following stops.
  } finally {
    out.destroy();
  }
  res.end();
}
