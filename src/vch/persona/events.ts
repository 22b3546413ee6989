// GET /events: the VCH's state changes as Docker's event messages, live (the VCH keeps no
// history, so `since` and `until` are refused), filtered by type, container, image and event.
import type { VchEvent } from '../types.js';
import type { Vch } from '../vch.js';
import { invalidInput } from '../errors.js';
import { parseFilters, write } from './http.js';
import type { Router } from './router.js';

const FILTERS = new Set(['type', 'container', 'image', 'event']);

/** Docker's message for one event. */
export function eventMessage(e: VchEvent): Record<string, unknown> {
  const seconds = Number(e.time / 1_000_000_000n);
  return {
    ...(e.type === 'container' && {
      status: e.action,
      id: e.id,
      ...(e.attributes.image && { from: e.attributes.image }),
    }),
    Type: e.type,
    Action: e.action,
    Actor: { ID: e.id, Attributes: e.attributes },
    scope: 'local',
    time: seconds,
    timeNano: Number(e.time),
  };
}

export function addEventRoutes(router: Router, vch: Vch): void {
  router.add('GET', '/events', async ({ res, query, signal }) => {
    for (const t of ['since', 'until'])
      if (query.get(t))
        throw invalidInput(`${t} is not supported: this VCH streams live events only`);
    const filters = parseFilters(query);
    for (const k of filters.keys())
      if (!FILTERS.has(k)) throw invalidInput(`invalid filter '${k}'`);
    const match = (e: VchEvent) => {
      const any = (k: string, values: string[]) => {
        const want = filters.get(k);
        return !want?.length || want.some((w) => values.includes(w));
      };
      const name = e.attributes.name ?? '';
      return (
        any('type', [e.type]) &&
        any('event', [e.action]) &&
        (e.type !== 'container' || any('container', [e.id, e.id.slice(0, 12), name])) &&
        (!filters.get('container')?.length || e.type === 'container') &&
        any('image', e.type === 'image' ? [e.id, name] : [e.attributes.image ?? ''])
      );
    };
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    let queue: Promise<unknown> = Promise.resolve();
    const onEvent = (e: VchEvent) => {
      if (match(e)) queue = queue.then(() => write(res, `${JSON.stringify(eventMessage(e))}\n`));
    };
    vch.on('event', onEvent);
    try {
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      vch.off('event', onEvent);
    }
  });
}
