// The server serves the API module's routes, all of them and no other (the contract test in
// src/api/portlayer/ holds that table to VIC's swagger).
import { describe, expect, it } from 'vitest';
import { ROUTES, routePath } from '../../api/portlayer/index.js';
import type { Vch } from '../vch.js';
import { createPortlayerRouter } from './server.js';

describe('portlayer routes', () => {
  // Registering routes touches no VCH; no request is served here.
  const router = createPortlayerRouter({} as Vch);

  it('registers exactly the routes of src/api/portlayer/routes.ts', () => {
    const served = router.served();
    expect(new Set(served)).toEqual(new Set(Object.values(ROUTES)));
    expect(served).toHaveLength(Object.values(ROUTES).length);
  });

  it('matches each route to its own handler (specific paths before general ones)', () => {
    const handlers = new Map<unknown, string>();
    for (const [name, r] of Object.entries(ROUTES)) {
      const params = (r.path.match(/\{\w+\}/g) ?? []).map((_, i) => `p${i}`);
      const { handler } = router.match(r.method, routePath(r, ...params));
      expect(handlers.get(handler), name).toBeUndefined();
      handlers.set(handler, name);
    }
  });
});
