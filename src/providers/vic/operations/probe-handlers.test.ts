import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execOutcome, httpProbe, resolvePort, tcpProbe } from './probe-handlers.js';

let server: Server;
let port: number;
const seen: Record<string, string | undefined>[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url, ua: req.headers['user-agent'], x: req.headers['x-probe'] });
    if (req.url === '/ok') return res.end('fine');
    if (req.url === '/moved') return res.writeHead(302, { location: '/ok' }).end();
    if (req.url === '/away')
      return res.writeHead(301, { location: 'http://192.0.2.1/elsewhere' }).end('bye');
    if (req.url === '/slow') return; // never answers
    if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    res.writeHead(500).end('broken');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const target = (path: string) => ({
  scheme: 'HTTP' as const,
  host: '127.0.0.1',
  port,
  path,
  headers: [{ name: 'X-Probe', value: 'yes' }],
});

describe('httpProbe', () => {
  it('succeeds on 2xx with its headers and the kube-probe User-Agent', async () => {
    expect(await httpProbe(target('/ok'), 2000)).toEqual({ ok: true, output: 'fine' });
    expect(seen.at(-1)).toEqual({ url: '/ok', ua: 'kube-probe/vic-kubelet', x: 'yes' });
  });

  it('fails on 5xx with the kubelet words', async () => {
    expect(await httpProbe(target('/bad'), 2000)).toEqual({
      ok: false,
      output: 'HTTP probe failed with statuscode: 500',
    });
  });

  it('follows a redirect on the same host; stops (a success) at one to another host', async () => {
    expect(await httpProbe(target('/moved'), 2000)).toEqual({ ok: true, output: 'fine' });
    const away = await httpProbe(target('/away'), 2000);
    expect(away).toEqual({ ok: true, output: 'Probe terminated redirects, Response: bye' });
    // After 10 redirects the last 3xx answer stands: a success, as the kubelet's.
    expect((await httpProbe(target('/loop'), 5000)).ok).toBe(true);
  });

  it('a server that does not answer in time is a failure', async () => {
    const r = await httpProbe(target('/slow'), 300);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/^Get "http:\/\/127\.0\.0\.1:\d+\/slow": context deadline exceeded/);
  });
});

describe('tcpProbe', () => {
  it('succeeds when the connection opens, fails when refused', async () => {
    expect(await tcpProbe('127.0.0.1', port, 1000)).toEqual({ ok: true, output: '' });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const free = (closed.address() as AddressInfo).port;
    closed.close();
    const r = await tcpProbe('127.0.0.1', free, 1000);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/^dial tcp 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });
});

describe('resolvePort and execOutcome', () => {
  it('a port by number or by the name of a container port', () => {
    const c = { name: 'app', ports: [{ name: 'http', containerPort: 8080 }] };
    expect(resolvePort(80, c)).toBe(80);
    expect(resolvePort('http', c)).toBe(8080);
    expect(() => resolvePort('grpc', c)).toThrow("couldn't find port: grpc in container app");
  });

  it('exit 0 succeeds; other codes fail with the output; a timeout fails', () => {
    const r = (exitCode: number, timedOut = false) => ({
      exitCode,
      stdout: Buffer.from('out '),
      stderr: Buffer.from('err'),
      timedOut,
    });
    expect(execOutcome(r(0), 1)).toEqual({ ok: true, output: 'out err' });
    expect(execOutcome(r(1), 1)).toEqual({ ok: false, output: 'out err' });
    expect(execOutcome(r(137, true), 3)).toEqual({
      ok: false,
      output: 'command timed out after 3s',
    });
  });
});
