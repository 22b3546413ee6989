// The persona's HTTP edge over the core with a Runtime double: routing and version prefixes,
// Docker's error form and status codes, request validation, stdcopy framing, a hijacked attach.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STDERR, STDOUT } from '../../iolog/index.js';
import { FakeRuntime, writeTestLayout } from '../../../test/support/fake-runtime.js';
import { Vch } from '../vch.js';
import { parseTcpAddress, unixSocketPath } from './listen.js';
import { createPersonaServer } from './server.js';

/** A JSON document as the tests read it. */
interface Doc {
  [key: string]: Doc & string & number & Doc[];
}

let dir: string;
let fake: FakeRuntime;
let vch: Vch;
let server: Server;
let base: string;
let port: number;

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined && {
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

/** Splits a stdcopy stream into [stream id, text] frames. */
function frames(buf: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let off = 0; off + 8 <= buf.length;) {
    const len = buf.readUInt32BE(off + 4);
    out.push([buf[off], buf.subarray(off + 8, off + 8 + len).toString()]);
    off += 8 + len;
  }
  return out;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'persona-test-'));
  fake = new FakeRuntime();
  vch = await Vch.open({ stateDir: join(dir, 'state'), runtime: () => fake });
  await writeTestLayout(join(dir, 'layout'), 'example.test/app:1', { Cmd: ['/bin/app'] });
  await vch.loadImages(join(dir, 'layout'));
  server = createPersonaServer(vch, { tmpDir: join(dir, 'tmp') });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  base = `http://127.0.0.1:${port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await vch.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('routing and versions', () => {
  it('answers /_ping with the API version, with and without a prefix', async () => {
    const ping = await call('GET', '/_ping');
    expect(ping.status).toBe(200);
    expect(ping.text).toBe('OK');
    expect(ping.headers.get('api-version')).toBe('1.43');
    expect((await call('HEAD', '/_ping')).status).toBe(200);
    expect((await call('GET', '/v1.41/version')).json).toMatchObject({
      ApiVersion: '1.43',
      Os: 'linux',
    });
  });

  it('refuses versions it does not speak, and unknown routes, in Docker JSON', async () => {
    expect(await call('GET', '/v1.99/version')).toMatchObject({
      status: 400,
      json: { message: 'client version 1.99 is too new. Maximum supported API version is 1.43' },
    });
    expect((await call('GET', '/v1.12/version')).status).toBe(400);
    expect(await call('GET', '/nope')).toMatchObject({
      status: 404,
      json: { message: expect.stringContaining('/nope') },
    });
    expect((await call('PUT', '/containers/json')).status).toBe(405);
  });

  it('answers /info from the core', async () => {
    const info = (await call('GET', '/info')).json as Record<string, unknown>;
    expect(info).toMatchObject({
      Containers: 0,
      Images: 1,
      OSType: 'linux',
      DefaultRuntime: 'runc',
    });
    expect(info.NCPU).toBeGreaterThan(0);
  });
});

describe('containers', () => {
  it('refuses what a web page could send: an Origin (403), a body that is not JSON (415)', async () => {
    const page = await fetch(`${base}/containers/create`, {
      method: 'POST',
      headers: { Origin: 'http://127.0.0.1:9', 'Content-Type': 'application/json' },
      body: JSON.stringify({ Image: 'example.test/app:1' }),
    });
    expect(page.status).toBe(403);
    expect(((await page.json()) as { message: string }).message).toBe(
      'requests from a web browser are refused (Origin "http://127.0.0.1:9")',
    );
    const form = await fetch(`${base}/containers/create`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify({ Image: 'example.test/app:1' }),
    });
    expect(form.status).toBe(415);
    expect(fake.containers.size).toBe(0);
  });

  it('maps bad bodies to 400 with one clear message', async () => {
    expect(await call('POST', '/containers/create', '{"Image": ')).toMatchObject({
      status: 400,
      json: { message: expect.stringMatching(/^malformed JSON in request body/) },
    });
    expect(await call('POST', '/containers/create', '[1]')).toMatchObject({ status: 400 });
    expect(await call('POST', '/containers/create', {})).toMatchObject({
      status: 400,
      json: { message: 'Image is required' },
    });
    const sysctls = (Sysctls: unknown) =>
      call('POST', '/containers/create', { Image: 'example.test/app:1', HostConfig: { Sysctls } });
    expect(await sysctls(['net.ipv4.x=1'])).toMatchObject({
      status: 400,
      json: { message: 'invalid HostConfig.Sysctls: want an object of strings' },
    });
    const host = (HostConfig: unknown) =>
      call('POST', '/containers/create', { Image: 'example.test/app:1', HostConfig });
    expect(await host({ Dns: '10.0.0.1' })).toMatchObject({
      status: 400,
      json: { message: 'invalid HostConfig.Dns: want a list of strings' },
    });
    expect(await host({ ExtraHosts: ['nocolon'] })).toMatchObject({
      status: 400,
      json: { message: 'invalid --add-host "nocolon": want name:ip' },
    });
    expect(await host({ ExtraHosts: ['gw:host-gateway'] })).toMatchObject({ status: 400 });
    expect(await host({ DnsOptions: ['ndots:5 rotate'] })).toMatchObject({ status: 400 });
    expect(
      await call('POST', '/containers/create', { Image: 'example.test/app:1', Tty: 'yes' }),
    ).toMatchObject({
      status: 400,
      json: { message: 'invalid Tty: want true or false' },
    });
    expect(
      await call('POST', '/containers/create', { Image: 'example.test/app:1', Cmd: 5 }),
    ).toMatchObject({
      status: 400,
    });
    expect(
      await call('POST', '/containers/create', {
        Image: 'example.test/app:1',
        HostConfig: { Binds: ['/tmp:/host:rshared'] },
      }),
    ).toMatchObject({
      status: 400,
      json: {
        message: 'volume option "rshared" of /tmp:/host:rshared is not supported (only ro, rw)',
      },
    });
    expect(
      await call('POST', '/containers/create', {
        Image: 'example.test/app:1',
        HostConfig: {
          Mounts: [
            {
              Type: 'volume',
              Source: 'v',
              Target: '/v',
              VolumeOptions: { DriverConfig: { Name: 'nfs' } },
            },
          ],
        },
      }),
    ).toMatchObject({
      status: 400,
      json: { message: 'volume driver "nfs" is not supported (only local)' },
    });
    expect(
      await call('POST', '/containers/create?name=bad%20name', { Image: 'example.test/app:1' }),
    ).toMatchObject({
      status: 400,
    });
    expect(await call('POST', '/containers/create', { Image: 'example.test/none' })).toMatchObject({
      status: 404,
      json: { message: 'No such image: example.test/none:latest' },
    });
  });

  it('creates, starts (204 then 304), kills, waits and removes with Docker statuses', async () => {
    const created = await call('POST', '/v1.43/containers/create?name=web', {
      Image: 'example.test/app:1',
      Env: ['A=1'],
      Labels: { tier: 'front' },
      HostConfig: { Memory: 64 << 20, NanoCpus: 500_000_000 },
    });
    expect(created.status).toBe(201);
    const id = (created.json as { Id: string }).Id;
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(fake.containers.get(id)!.spec).toMatchObject({
      memoryLimitBytes: 64 << 20,
      cpuMillis: 500,
    });
    expect((await call('POST', '/containers/web/kill')).status).toBe(409);
    expect((await call('POST', '/containers/web/stop')).status).toBe(304);
    expect((await call('POST', '/containers/web/start')).status).toBe(204);
    expect((await call('POST', '/containers/web/start')).status).toBe(304);
    expect((await call('POST', '/containers/web/restart?t=1')).status).toBe(204);
    expect(fake.calls).toContain(`stop ${id.slice(0, 8)} SIGTERM 1000`);
    expect(await call('DELETE', '/containers/web')).toMatchObject({
      status: 409,
      json: { message: expect.stringContaining('container is running') },
    });

    const inspect = (await call('GET', `/containers/${id.slice(0, 8)}/json`)).json as Doc;
    expect(inspect).toMatchObject({
      Id: id,
      Name: '/web',
      Path: '/bin/app',
      State: { Status: 'running', Running: true, ExitCode: 0, FinishedAt: '0001-01-01T00:00:00Z' },
      RestartCount: 1,
      Config: {
        Image: 'example.test/app:1',
        Labels: { tier: 'front' },
        Cmd: ['/bin/app'],
        Tty: false,
      },
      HostConfig: { Memory: 64 << 20, NanoCpus: 500_000_000 },
      Mounts: [],
    });
    expect(inspect.State.Pid).toBeGreaterThan(0);

    const waiting = call('POST', '/containers/web/wait?condition=next-exit');
    await new Promise((r) => setTimeout(r, 50));
    expect((await call('POST', '/containers/web/kill?signal=SIGKILL')).status).toBe(204);
    expect(await waiting).toMatchObject({ status: 200, json: { StatusCode: 137, Error: null } });
    expect(await call('POST', '/containers/web/wait?condition=sometime')).toMatchObject({
      status: 400,
    });

    const list = (await call('GET', '/containers/json?all=1')).json as Doc[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      Id: id,
      Names: ['/web'],
      State: 'exited',
      Labels: { tier: 'front' },
    });
    expect(list[0].Status).toMatch(/^Exited \(137\) /);
    expect(list[0].Command).toBe('/bin/app');
    expect((await call('DELETE', '/containers/web')).status).toBe(204);
    expect(await call('GET', '/containers/web/json')).toMatchObject({
      status: 404,
      json: { message: 'No such container: web' },
    });
  });

  it('filters the list, and refuses filters it does not know', async () => {
    await call('POST', '/containers/create?name=a1', {
      Image: 'example.test/app:1',
      Labels: { x: 'y' },
    });
    await call('POST', '/containers/create?name=b1', { Image: 'example.test/app:1' });
    const names = async (q: string) =>
      ((await call('GET', `/containers/json?${q}`)).json as { Names: string[] }[])
        .map((c) => c.Names[0])
        .sort();
    expect(await names('')).toEqual([]);
    expect(await names('all=true')).toEqual(['/a1', '/b1']);
    const f = (o: unknown) => `filters=${encodeURIComponent(JSON.stringify(o))}`;
    expect(await names(`all=1&${f({ name: { a1: true } })}`)).toEqual(['/a1']);
    expect(await names(`all=1&${f({ label: ['x=y'] })}`)).toEqual(['/a1']);
    expect(await names(f({ status: ['created'] }))).toEqual(['/a1', '/b1']);
    expect(await names(f({ status: ['paused'] }))).toEqual([]);
    expect((await call('GET', `/containers/json?${f({ ancestor: ['x'] })}`)).status).toBe(400);
    expect((await call('GET', `/containers/json?${f({ status: ['sleepy'] })}`)).status).toBe(400);
    expect((await call('GET', '/containers/json?filters=%7Bnot-json')).status).toBe(400);
  });

  it('streams logs in stdcopy frames, streams apart, and refuses bad parameters', async () => {
    const id = (
      (await call('POST', '/containers/create', { Image: 'example.test/app:1' })).json as {
        Id: string;
      }
    ).Id;
    await call('POST', `/containers/${id}/start`);
    await fake.output(id, STDOUT, 'out 1\n');
    await fake.output(id, STDERR, 'err 1\n');
    await fake.output(id, STDOUT, 'out 2\n');
    const res = await fetch(`${base}/v1.43/containers/${id}/logs?stdout=1&stderr=1`);
    expect(res.headers.get('content-type')).toBe('application/vnd.docker.multiplexed-stream');
    expect(frames(Buffer.from(await res.arrayBuffer()))).toEqual([
      [1, 'out 1\n'],
      [2, 'err 1\n'],
      [1, 'out 2\n'],
    ]);
    const errOnly = await fetch(`${base}/containers/${id}/logs?stderr=1&tail=all`);
    expect(frames(Buffer.from(await errOnly.arrayBuffer()))).toEqual([[2, 'err 1\n']]);
    expect(await call('GET', `/containers/${id}/logs`)).toMatchObject({
      status: 400,
      json: { message: 'Bad parameters: you must choose at least one stream' },
    });
    expect((await call('GET', `/containers/${id}/logs?stdout=1&tail=-3`)).status).toBe(400);
    expect((await call('GET', `/containers/${id}/logs?stdout=1&since=yesterday`)).status).toBe(400);
  });

  it('attaches on a hijacked connection and ends with the container', async () => {
    const id = (
      (await call('POST', '/containers/create', { Image: 'example.test/app:1' })).json as {
        Id: string;
      }
    ).Id;
    const sock = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    const closed = new Promise((r) => sock.once('close', r));
    sock.write(
      `POST /v1.43/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\n` +
        'Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
    );
    for (let i = 0; i < 50 && !Buffer.concat(got).includes('\r\n\r\n'); i++)
      await new Promise((r) => setTimeout(r, 20));
    await call('POST', `/containers/${id}/start`);
    await fake.output(id, STDOUT, 'hello\n');
    await fake.output(id, STDERR, 'oops\n');
    await new Promise((r) => setTimeout(r, 100));
    fake.exit(id, 0);
    await closed;
    const all = Buffer.concat(got);
    const head = all.indexOf('\r\n\r\n');
    expect(all.subarray(0, head).toString()).toMatch(/^HTTP\/1.1 101 UPGRADED\r\n/);
    expect(frames(all.subarray(head + 4))).toEqual([
      [1, 'hello\n'],
      [2, 'oops\n'],
    ]);
    // Without the upgrade, attach is a clear 400.
    expect((await call('POST', `/containers/${id}/attach?stdout=1`)).status).toBe(400);
  });

  it('answers bad exec input with one 4xx line: a malformed escape, sizes out of range, no such exec', async () => {
    // A hijacked start whose path has a malformed escape: 400, not a 500.
    const sock = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    const closed = new Promise((r) => sock.once('close', r));
    sock.write(
      'POST /v1.43/exec/%E0%A4%A/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n' +
        'Upgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
    );
    await closed;
    expect(Buffer.concat(got).toString()).toMatch(/^HTTP\/1.1 400 /);
    const id = (
      (await call('POST', '/containers/create', { Image: 'example.test/app:1' })).json as {
        Id: string;
      }
    ).Id;
    await call('POST', `/containers/${id}/start`);
    const big = await call('POST', `/containers/${id}/exec`, {
      Cmd: ['sh'],
      ConsoleSize: [1, 70000],
    });
    expect(big.status).toBe(400);
    expect(big.json).toMatchObject({ message: expect.stringContaining('ConsoleSize') });
    const exec = await call('POST', `/containers/${id}/exec`, { Cmd: ['sh'], Tty: true });
    expect(exec.status).toBe(201);
    const execId = (exec.json as { Id: string }).Id;
    expect((await call('POST', `/exec/${execId}/resize?h=24&w=-5`)).status).toBe(400);
    expect((await call('POST', `/exec/${execId}/resize?h=24&w=80`)).status).toBe(200);
    expect((await call('GET', '/exec/nosuch/json')).status).toBe(404);
  });

  it('answers a handler bug with a one-line 500 and keeps serving', async () => {
    (vch as unknown as { listContainers: () => never }).listContainers = () => {
      throw new TypeError('boom');
    };
    expect(await call('GET', '/containers/json')).toMatchObject({
      status: 500,
      json: { message: 'internal error: boom' },
    });
    expect((await call('GET', '/_ping')).status).toBe(200);
  });
});

describe('images', () => {
  it('lists, inspects and removes with Docker shapes', async () => {
    const list = (await call('GET', '/images/json')).json as Record<string, unknown>[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      RepoTags: ['example.test/app:1'],
      Created: Date.UTC(2026, 0, 2, 3, 4, 5) / 1000,
    });
    const inspect = (await call('GET', '/images/example.test/app:1/json')).json as Doc;
    expect(inspect).toMatchObject({
      Os: 'linux',
      Architecture: 'amd64',
      Config: { Cmd: ['/bin/app'] },
    });
    expect(inspect.RootFS.Layers).toHaveLength(1);
    expect((await call('DELETE', '/images/example.test/app:1')).json).toEqual([
      { Untagged: 'example.test/app:1' },
      { Deleted: list[0].Id },
    ]);
    expect((await call('DELETE', '/images/example.test/app:1')).status).toBe(404);
  });

  it('refuses a pull without fromImage or with a bad reference before streaming', async () => {
    expect((await call('POST', '/images/create')).status).toBe(400);
    expect(await call('POST', '/images/create?fromImage=UPPER&tag=x')).toMatchObject({
      status: 400,
    });
    const badAuth = await fetch(`${base}/images/create?fromImage=example.test/app&tag=1`, {
      method: 'POST',
      headers: { 'X-Registry-Auth': '%%%' },
    });
    expect(badAuth.status).toBe(400);
  });

  it('refuses an empty or broken archive on load with 400', async () => {
    expect((await call('POST', '/images/load', '')).status).toBe(400);
    const broken = await call('POST', '/images/load', 'not a tar');
    expect(broken.status).toBe(400);
    expect((broken.json as { message: string }).message).toContain('the image archive');
  });
});

describe('listen addresses', () => {
  it('accepts loopback TCP without TLS, any address with it, and unix:// paths', () => {
    expect(parseTcpAddress('127.0.0.1:2375', false)).toEqual({ host: '127.0.0.1', port: 2375 });
    expect(parseTcpAddress('[::1]:2375', false)).toEqual({ host: '::1', port: 2375 });
    expect(() => parseTcpAddress('0.0.0.0:2375', false)).toThrow(
      /plain TCP is for loopback addresses/,
    );
    expect(parseTcpAddress('0.0.0.0:2375', true).host).toBe('0.0.0.0');
    expect(() => parseTcpAddress('localhost', false)).toThrow(/HOST:PORT/);
    expect(unixSocketPath('unix:///run/vch.sock')).toBe('/run/vch.sock');
    expect(() => unixSocketPath('tcp://1.2.3.4:1')).toThrow(/unix:\/\/\/absolute/);
  });
});

describe('shapes', () => {
  it("writes the list's Command as dockerd does", async () => {
    const id = (
      (
        await call('POST', '/containers/create', {
          Image: 'example.test/app:1',
          Cmd: ['sh', '-c', 'echo hi there', 'x'],
        })
      ).json as { Id: string }
    ).Id;
    const [c] = (await call('GET', '/containers/json?all=1')).json as {
      Id: string;
      Command: string;
    }[];
    expect(c).toMatchObject({ Id: id, Command: "sh -c 'echo hi there' x" });
  });
});

describe('followers', () => {
  it('let go of the container when the client goes away', async () => {
    const id = (
      (await call('POST', '/containers/create', { Image: 'example.test/app:1' })).json as {
        Id: string;
      }
    ).Id;
    await call('POST', `/containers/${id}/start`);
    const before = vch.watchersOf(id);
    const ac = new AbortController();
    const res = await fetch(`${base}/containers/${id}/logs?stdout=1&follow=1`, {
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(vch.watchersOf(id)).toBe(before + 1);
    ac.abort();
    for (let i = 0; i < 50 && vch.watchersOf(id) > before; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(vch.watchersOf(id)).toBe(before);
  });
});

describe('events', () => {
  it('streams state changes live, filtered as asked', async () => {
    const ac = new AbortController();
    const f = encodeURIComponent(
      JSON.stringify({ type: ['container'], event: ['create', 'start'] }),
    );
    const res = await fetch(`${base}/events?filters=${f}`, { signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const id = (
      (await call('POST', '/containers/create?name=ev', { Image: 'example.test/app:1' })).json as {
        Id: string;
      }
    ).Id;
    await call('POST', `/containers/${id}/start`);
    await call('POST', `/containers/${id}/kill`); // 'kill' and 'die' are filtered out
    let text = '';
    while (text.split('\n').length < 3)
      text += new TextDecoder().decode((await reader.read()).value);
    const [created, started] = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(created).toMatchObject({
      Type: 'container',
      Action: 'create',
      status: 'create',
      id,
      from: 'example.test/app:1',
      Actor: { ID: id, Attributes: { name: 'ev' } },
    });
    expect(started).toMatchObject({ Type: 'container', Action: 'start', id });
    ac.abort();
    expect((await call('GET', '/events?since=10')).status).toBe(400);
    expect(
      (await call('GET', `/events?filters=${encodeURIComponent('{"volume":["x"]}')}`)).status,
    ).toBe(400);
  });
});
