// Fuzzing the VCH's two request parsers end to end — the persona (Docker's API) and the
// portlayer (VIC's) on their one listener, over a VCH with a fake runtime: random methods,
// paths built from the real route templates with hostile segments, random query parameters and
// random or near-valid JSON bodies. Every answer is a status below 500 (501 allowed) with a
// one-line message, and the listener goes on answering. Routes that contact a registry are left
// out (the fuzzer must stay on loopback), and any request for another host fails the test.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeRuntime, writeTestLayout } from '../../test/support/fake-runtime.js';
import { fuzz, nastyString } from '../../test/support/fuzz.js';
import { ROUTES } from '../api/portlayer/routes.js';
import { Vch } from './vch.js';
import { closeVchServer, createVchServer } from './vch-server.js';

let dir: string;
let vch: Vch;
let server: Server;
let base: string;
const realFetch = globalThis.fetch;
const strayRequests: string[] = [];

beforeAll(async () => {
  // The VCH's registry client takes the global fetch when made: nothing may leave loopback.
  globalThis.fetch = ((url: string | URL | Request, init?: RequestInit) => {
    const href = url instanceof Request ? url.url : String(url);
    if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(href)) {
      strayRequests.push(href);
      return Promise.reject(new TypeError('fetch failed'));
    }
    return realFetch(url, init);
  }) as typeof fetch;
  dir = mkdtempSync(join(tmpdir(), 'vch-api-fuzz-'));
  vch = await Vch.open({ stateDir: join(dir, 'state'), runtime: () => new FakeRuntime() });
  await writeTestLayout(join(dir, 'layout'), 'example.test/app:1', { Cmd: ['/bin/app'] });
  await vch.loadImages(join(dir, 'layout'));
  server = createVchServer(vch, { tmpDir: join(dir, 'tmp') });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}, 60_000);

afterAll(async () => {
  globalThis.fetch = realFetch;
  await closeVchServer(server);
  await vch.close();
  rmSync(dir, { recursive: true, force: true });
});

const persona: [string, string][] = [
  ['DELETE', '/containers/{}'], ['DELETE', '/images/{}'], ['DELETE', '/volumes/{}'],
  ['GET', '/_ping'], ['GET', '/containers/json'], ['GET', '/containers/{}/json'],
  ['GET', '/containers/{}/logs'], ['GET', '/images/json'], ['GET', '/images/{}/json'],
  ['GET', '/info'], ['GET', '/version'], ['GET', '/volumes'], ['GET', '/volumes/{}'],
  ['POST', '/containers/create'], ['POST', '/containers/{}/kill'], ['POST', '/containers/{}/restart'],
  ['POST', '/containers/{}/start'], ['POST', '/containers/{}/stop'], ['POST', '/volumes/create'],
  ['POST', '/images/load'], ['GET', '/containers/{}/stats'], ['POST', '/containers/{}/wait'],
]; // prettier-ignore
const portlayer: [string, string][] = Object.values(ROUTES)
  // ImageJoin pulls from a registry.
  .filter((r) => r !== ROUTES.imageJoin)
  .map((r) => [r.method, `/portlayer${r.path.replace(/\{\w+\}/g, '{}')}`]);
/** Routes that may stream or wait: ending them by timeout is not a hang. */
const waits = /\/(wait|logs|stats|events|attach)(\?|$)/;

const segment = fc.oneof(
  nastyString.map((s) => encodeURIComponent(s)),
  fc.constantFrom(
    'example.test/app:1',
    'app',
    'default',
    'bridge',
    'none',
    '%2e%2e',
    '..',
    'x%00y',
    '%E0%A4%A',
  ),
);
const queryKeys = ['all', 'force', 'v', 't', 'timeout', 'signal', 'name', 'filters', 'tail',
  'since', 'until', 'follow', 'stdout', 'stderr', 'timestamps', 'stream', 'limit', 'size',
  'condition', 'id', 'handle', 'scope', 'one-shot']; // prettier-ignore
const query = fc.array(
  fc.tuple(fc.oneof(fc.constantFrom(...queryKeys), nastyString), nastyString),
  {
    maxLength: 4,
  },
);
const anything = fc.oneof(fc.jsonValue({ maxDepth: 2 }), nastyString);
const createBody = fc.record(
  {
    Image: fc.oneof(fc.constant('example.test/app:1'), anything),
    Cmd: fc.oneof(fc.array(nastyString, { maxLength: 3 }), anything),
    Env: fc.oneof(fc.array(nastyString, { maxLength: 3 }), anything),
    Labels: anything,
    HostConfig: fc.oneof(
      fc.record(
        {
          Memory: anything,
          Binds: anything,
          PortBindings: anything,
          Sysctls: anything,
          RestartPolicy: anything,
          SecurityOpt: anything,
        },
        { requiredKeys: [] },
      ),
      anything,
    ),
    Name: anything,
    Handle: anything,
    Config: anything,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  createBody.map((b) => JSON.stringify(b)),
  anything.map((b) => JSON.stringify(b)),
  fc.string({ maxLength: 50 }),
);
const request = fc.record({
  route: fc.constantFrom(...persona, ...portlayer),
  method: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'), { freq: 4 }),
  segments: fc.array(segment, { minLength: 3, maxLength: 3 }),
  query,
  body,
});

it('answers any request with a status below 500 and one line, and goes on answering', async () => {
  await fuzz(
    'vch persona+portlayer requests',
    fc.asyncProperty(request, async ({ route, method, segments, query: q, body: b }) => {
      let i = 0;
      const path = route[1].replace(/\{\}/g, () => segments[i++]);
      const url = `${base}${path}${q.length ? `?${new URLSearchParams(q)}` : ''}`;
      const m = method ?? route[0];
      let res: Response;
      try {
        res = await realFetch(url, {
          method: m,
          headers: { 'content-type': 'application/json' },
          ...(b !== undefined && m !== 'GET' && m !== 'HEAD' && { body: b }),
          signal: AbortSignal.timeout(1000),
        });
      } catch (e) {
        if ((e as Error).name === 'TimeoutError' && waits.test(path)) return;
        throw new Error(`${m} ${url}: ${String(e)}`);
      }
      let text = '';
      try {
        text = m === 'HEAD' ? '' : await res.text();
      } catch (e) {
        // A stream that was still going when the time ran out.
        if ((e as Error).name === 'TimeoutError' && waits.test(path)) return;
        throw e;
      }
      if (res.status >= 500 && res.status !== 501)
        throw new Error(`${m} ${url} ${b ?? ''} → ${res.status} ${text}`);
      if (res.status >= 400 && m !== 'HEAD') {
        const message = (JSON.parse(text) as { message?: string }).message ?? '';
        expect(message).not.toMatch(/\n|\bat \S+ \(/);
      }
    }),
    { runs: 800, timeLimitMs: 12_000 },
  );
  expect((await realFetch(`${base}/_ping`)).status).toBe(200);
  expect(strayRequests).toEqual([]);
}, 60_000);
