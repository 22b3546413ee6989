// Stats routes: `GET /containers/{id}/stats?stream=` (VIC's GetContainerStats: a container is a
// pod, a task id names one of its tasks) and our `GET /vch/stats` (the host's figures, which a
// node reports as its own). `stream=true` answers one JSON object per line, a fresh one each
// second, until the client goes away; `stream=false` answers one.
import {
  type ContainerStats,
  ROUTES,
  type TaskStats,
  type VCHStats,
} from '../../api/portlayer/index.js';
import { invalidInput, notFound } from '../errors.js';
import type { Vch } from '../vch.js';
import { type Directory, podPlId, taskPlId } from './directory.js';
import { queryBool, sendJson, write } from './http.js';
import type { Router } from './router.js';

/** How often a stream sends fresh figures (docker stats refreshes each second). */
export const STREAM_INTERVAL_MS = 1000;

export function addStatsRoutes(router: Router, vch: Vch, dir: Directory): void {
  router.add(ROUTES.vchStats, async ({ res }) => {
    const body: VCHStats = await vch.hostStats();
    sendJson(res, 200, body);
  });

  router.add(ROUTES.containerStats, async ({ res, params, query, signal }) => {
    if (query.get('stream') === null) throw invalidInput('stream is required: true or false');
    const stream = queryBool(query, 'stream');
    const id = params[0];
    const sample = async (): Promise<ContainerStats> => {
      const found = await dir.resolve(id);
      if (!found) throw notFound(`no such container or task: ${id}`);
      const stats = await vch.podStats(found.pod.id);
      const plIds = new Map(found.tasks.map((t) => [t.id, taskPlId(t)]));
      const tasks: TaskStats[] = stats.containers
        .filter((c) => plIds.has(c.id))
        .map((c) => ({ ...c, id: plIds.get(c.id)! }));
      return {
        id: podPlId(found.pod),
        name: found.pod.name,
        read: stats.read,
        network: stats.network,
        tasks,
      };
    };
    const first = await sample();
    if (!stream) return sendJson(res, 200, first);
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.flushHeaders();
    let next: ContainerStats | undefined = first;
    while (next && !signal.aborted) {
      if (!(await write(res, `${JSON.stringify(next)}\n`))) break;
      await new Promise((r) => setTimeout(r, STREAM_INTERVAL_MS));
      // Gone in between (removed): the stream ends.
      next = await sample().catch(() => undefined);
    }
    res.end();
  });
}
