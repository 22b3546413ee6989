// GET /containers/{id}/top?ps_args=…: `docker top` (services/top.ts).
import type { Vch } from '../vch.js';
import { sendJson } from './http.js';
import type { Router } from './router.js';

export function addTopRoutes(router: Router, vch: Vch): void {
  router.add('GET', '/containers/{id}/top', async ({ res, params, query }) => {
    sendJson(res, 200, await vch.topContainer(params[0], query.get('ps_args') ?? undefined));
  });
}
