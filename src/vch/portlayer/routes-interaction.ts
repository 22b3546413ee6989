// An attached exec's streams, VIC's interaction API per exec task id: `GET …/stdout` and
// `…/stderr` stream its output (raw bytes, as they come, until it ends), `POST …/stdin` feeds
// its input (the body; its end closes stdin), `DELETE …/stdin` closes it, `POST …/resize`
// resizes its terminal. A client that goes away from stdout before the end kills the exec
// (kubectl's connection dropped): nothing else would ever read it.
import { pipeline } from 'node:stream/promises';
import { ROUTES } from '../../api/portlayer/index.js';
import { invalidInput } from '../errors.js';
import type { ExecTasks } from './exec-tasks.js';
import { queryInt, sendJson } from './http.js';
import type { Context, Router } from './router.js';

export function addInteractionRoutes(router: Router, execs: ExecTasks): void {
  const output =
    (which: 'stdout' | 'stderr') =>
    async ({ res, params }: Context) => {
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
    execs.running(params[0]!).resize({ width, height });
    sendJson(res, 200, undefined);
  });
}
