// The HTTP clients against a small stand-in server on a unix socket and on loopback TCP: the
// requests they make (routes, query, headers, bodies) and how answers and failures come back.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEndpoint } from './http.js';
import { PersonaClient, registryAuthHeader } from './persona-client.js';
import { formatUnixNanos, PortlayerClient } from './portlayer-client.js';
import { credentialsFor } from './pull-secrets.js';
import { splitReference } from './reference.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let handler: Handler = (_q, _b, res) => res.end();
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] =
  [];
let server: Server;
let dir: string;
let socket: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vic-clients-'));
  socket = join(dir, 'vch.sock');
  server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    handler(req, body, res);
  });
  await new Promise<void>((r) => server.listen(socket, r));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

describe('parseEndpoint', () => {
  it('takes unix sockets (with a path prefix) and http URLs', () => {
    expect(parseEndpoint('unix:///run/v.sock')).toMatchObject({
      socketPath: '/run/v.sock',
      basePath: '',
    });
    expect(parseEndpoint('unix:///run/v.sock#/portlayer/')).toMatchObject({
      basePath: '/portlayer',
    });
    expect(parseEndpoint('http://127.0.0.1:2377/pl')).toMatchObject({
      host: '127.0.0.1',
      port: 2377,
      basePath: '/pl',
    });
    expect(() => parseEndpoint('ftp://x')).toThrow(/want http:\/\/HOST:PORT or unix:\/\/\/PATH/);
    expect(() => parseEndpoint('unix://relative')).toThrow(/absolute socket path/);
  });
});

describe('PortlayerClient', () => {
  it('speaks VIC routes: handle, joins, state, commit, info, wait, signal', async () => {
    const pl = new PortlayerClient(`unix://${socket}`, 'store1');
    seen.length = 0;
    handler = (req, _body, res) => {
      if (req.url!.startsWith('/tasks')) return json(res, 200, { handle: 'h3', id: 't1' });
      if (req.url === '/containers/abc') return json(res, 200, 'h1');
      if (req.url!.startsWith('/containers/info/')) return json(res, 200, { tasks: [] });
      return json(res, 200, req.url!.includes('/state') ? 'h4' : { handle: 'h2' });
    };
    expect(await pl.handle('abc')).toBe('h1');
    expect(
      await pl.addImageToHandle('h1', { deltaID: 'app', imageID: 'sha256:9', repoName: 'busybox' }),
    ).toBe('h2');
    expect(await pl.createHandleTask('h2', { name: 'app', path: 'sh' })).toEqual({
      handle: 'h3',
      id: 't1',
    });
    expect(await pl.setState('h3', 'RUNNING')).toBe('h4');
    await pl.commitHandle('h4', 5);
    await pl.signal('t1', 15);
    await pl.wait('t1', 30);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /containers/abc',
      'POST /storage/store1/info/sha256%3A9',
      'POST /tasks',
      'PUT /containers/h3/state',
      'PUT /containers/h4?wait_time=5',
      'POST /containers/t1/signal?signal=15',
      'GET /containers/t1/wait?timeout=30',
    ]);
    expect(JSON.parse(seen[1].body)).toEqual({
      handle: 'h1',
      deltaID: 'app',
      imageID: 'sha256:9',
      repoName: 'busybox',
    });
    expect(JSON.parse(seen[3].body)).toBe('RUNNING');
  });

  it('maps the error model to kinds with the server message', async () => {
    const pl = new PortlayerClient(`unix://${socket}`);
    for (const [status, kind] of [
      [404, 'NotFound'],
      [409, 'Conflict'],
      [400, 'InvalidInput'],
      [500, 'Unavailable'],
    ] as const) {
      handler = (_q, _b, res) => json(res, status, { code: status, message: `said ${status}` });
      await expect(pl.commitHandle('h')).rejects.toMatchObject({
        kind,
        message: `portlayer: said ${status}`,
      });
    }
  });

  it('a VCH that is not there is Unavailable, naming the endpoint', async () => {
    const pl = new PortlayerClient(`unix://${dir}/nothing.sock`);
    await expect(pl.ping()).rejects.toMatchObject({
      kind: 'Unavailable',
      message: expect.stringMatching(/portlayer at unix:\/\/.*nothing\.sock: ENOENT/),
    });
  });

  it('streams logs with the query the server needs', async () => {
    const pl = new PortlayerClient(`unix://${socket}`);
    seen.length = 0;
    handler = (_q, _b, res) => {
      res.write('one\n');
      res.end('two\n');
    };
    const stream = await pl.logs('t1', {
      follow: true,
      since: 1_700_000_000_000_000_001n,
      timestamps: true,
      tail: 5,
      stream: 'stderr',
      limitBytes: 10,
    });
    let text = '';
    for await (const c of stream) text += c;
    expect(text).toBe('one\ntwo\n');
    expect(seen[0].url).toBe(
      '/containers/t1/logs?follow=true&since=1700000000.000000001&timestamp=true&taillines=5&stream=stderr&limitBytes=10',
    );
    handler = (_q, _b, res) => json(res, 404, { message: 'no such task t9' });
    await expect(pl.logs('t9', {})).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('formats nanoseconds as Unix seconds', () => {
    expect(formatUnixNanos(1_500_000_000n)).toBe('1.5');
    expect(formatUnixNanos(2_000_000_000n)).toBe('2');
    expect(formatUnixNanos(0n)).toBe('0');
  });
});

describe('PersonaClient', () => {
  it('pulls with fromImage, tag and X-Registry-Auth, and reads the progress stream to its end', async () => {
    const persona = new PersonaClient(`unix://${socket}`);
    seen.length = 0;
    handler = (_q, _b, res) => {
      res.write('{"status":"Pulling from busybox","id":"1.36"}\r\n');
      res.end('{"status":"Digest: sha256:abc"}\r\n{"status":"Status: Downloaded newer image"}');
    };
    const progress: string[] = [];
    const creds = { username: 'alice', password: 'pw', serveraddress: '127.0.0.1:5001' };
    await persona.pull('127.0.0.1:5001/lib/busybox:1.36', creds, (s) => progress.push(s));
    expect(seen[0].url).toBe('/images/create?fromImage=127.0.0.1%3A5001%2Flib%2Fbusybox&tag=1.36');
    expect(
      JSON.parse(Buffer.from(seen[0].headers['x-registry-auth'] as string, 'base64url').toString()),
    ).toEqual(creds);
    expect(progress).toEqual([
      '1.36: Pulling from busybox',
      'Digest: sha256:abc',
      'Status: Downloaded newer image',
    ]);
  });

  it('fails on the error line of a 200 stream with its message', async () => {
    const persona = new PersonaClient(`unix://${socket}`);
    handler = (_q, _b, res) => {
      res.write('{"status":"Pulling"}\n');
      res.end(
        '{"errorDetail":{"message":"manifest for x:1 not found: manifest unknown"},"error":"manifest for x:1 not found"}\n',
      );
    };
    await expect(persona.pull('x:1')).rejects.toMatchObject({
      kind: 'NotFound',
      message: 'manifest for x:1 not found: manifest unknown',
    });
    handler = (_q, _b, res) => json(res, 500, { message: 'registry unreachable' });
    await expect(persona.pull('x:1')).rejects.toMatchObject({
      kind: 'Unavailable',
      message: 'persona: registry unreachable',
    });
  });

  it("reads an image's config; a missing image is undefined", async () => {
    const persona = new PersonaClient(`unix://${socket}`);
    seen.length = 0;
    handler = (req, _b, res) =>
      req.url === '/images/busybox:1/json'
        ? json(res, 200, {
            Id: 'sha256:1',
            Config: { Cmd: ['sh'], Env: ['PATH=/bin'], Entrypoint: null, WorkingDir: '', User: '' },
          })
        : json(res, 404, { message: 'No such image' });
    expect(await persona.get('busybox:1')).toEqual({
      id: 'sha256:1',
      name: 'busybox:1',
      entrypoint: [],
      cmd: ['sh'],
      env: ['PATH=/bin'],
      workingDir: '',
      user: '',
      stopSignal: undefined,
    });
    expect(await persona.get('other:2')).toBeUndefined();
    await expect(persona.get('Bad Name')).rejects.toMatchObject({ kind: 'InvalidInput' });
  });

  it('talks TCP on loopback too', async () => {
    const tcp = createServer((_q, res) => json(res, 200, { Id: 'sha256:2', Config: null }));
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as { port: number }).port;
    try {
      expect((await new PersonaClient(`http://127.0.0.1:${port}`).get('a:1'))!.id).toBe('sha256:2');
    } finally {
      await new Promise((r) => tcp.close(r));
    }
  });
});

describe('references and pull secrets', () => {
  it('splits references as the docker CLI does for a pull', () => {
    expect(splitReference('busybox')).toEqual({
      repository: 'busybox',
      tag: 'latest',
      registry: 'docker.io',
    });
    expect(splitReference('library/busybox:1.36')).toMatchObject({
      tag: '1.36',
      registry: 'docker.io',
    });
    expect(splitReference('localhost:5000/a/b:x')).toEqual({
      repository: 'localhost:5000/a/b',
      tag: 'x',
      registry: 'localhost:5000',
    });
    const digest = `sha256:${'f'.repeat(64)}`;
    expect(splitReference(`reg.io/a@${digest}`)).toMatchObject({
      repository: 'reg.io/a',
      tag: digest,
    });
    expect(() => splitReference('a b')).toThrow(/invalid image reference "a b"/);
  });

  it('finds credentials by registry host in dockerconfigjson and dockercfg secrets', () => {
    const secret = (type: string, key: string, value: unknown) => ({
      type,
      data: { [key]: Buffer.from(JSON.stringify(value)).toString('base64') },
    });
    const hub = secret('kubernetes.io/dockerconfigjson', '.dockerconfigjson', {
      auths: { 'https://index.docker.io/v1/': { username: 'u', password: 'p' } },
    });
    const old = secret('kubernetes.io/dockercfg', '.dockercfg', {
      'reg.local:5000': { auth: Buffer.from('x:y:z').toString('base64') },
    });
    const broken = {
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': 'bm90IGpzb24=' },
    };
    expect(credentialsFor('docker.io', [broken, hub, old])).toMatchObject({
      username: 'u',
      password: 'p',
    });
    expect(credentialsFor('reg.local:5000', [broken, hub, old])).toMatchObject({
      username: 'x',
      password: 'y:z',
    });
    expect(credentialsFor('reg.local:5001', [hub, old])).toBeUndefined();
  });

  it('encodes X-Registry-Auth as URL-safe base64 JSON', () => {
    const h = registryAuthHeader({ username: '??>', password: '~~~', serveraddress: 's' });
    expect(h).not.toMatch(/[+/]/);
  });
});
