// Limits on what reaches a handler, on the VCH's listener (persona and portlayer) and on the
// kubelet API: oversized headers are 431, an oversized JSON body 413, a body the kubelet API
// would not read 413 — each one short answer, and the server goes on serving.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { request } from 'node:https';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeRuntime } from '../../test/support/fake-runtime.js';
import { createLogger } from '../logging/logger.js';
import type { Authenticator } from '../node/kubelet-api/auth.js';
import { KubeletServer } from '../node/kubelet-api/server.js';
import type { Provider } from '../node/provider.js';
import { MAX_HEADER_BYTES } from '../http-limits.js';
import { Vch } from './vch.js';
import { closeVchServer, createVchServer } from './vch-server.js';

let dir: string;
let vch: Vch;
let server: Server;
let port: number;
let kubelet: KubeletServer;
let kubeletPort: number;
let ca: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'listener-limits-'));
  vch = await Vch.open({ stateDir: join(dir, 'state'), runtime: () => new FakeRuntime() });
  server = createVchServer(vch, { tmpDir: join(dir, 'tmp') });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=kubelet', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' }); // prettier-ignore
  ca = readFileSync(join(dir, 'cert.pem'));
  const allowAll = {
    check: async () => ({ ok: true, caller: { user: 'admin', groups: [] } }),
  } as unknown as Authenticator;
  kubelet = new KubeletServer(
    {} as Provider,
    allowAll,
    { cert: ca, key: readFileSync(join(dir, 'key.pem')), host: '127.0.0.1', port: 0 },
    createLogger({ level: 'silent' }),
  );
  kubeletPort = await kubelet.start();
});

afterAll(async () => {
  await kubelet.stop();
  await closeVchServer(server);
  await vch.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The status line of a raw request's answer. */
function rawStatus(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve(got.split('\r\n')[0]));
    s.end(text);
  });
}

function kubeletGet(headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: kubeletPort, path: '/healthz', method: 'POST', ca, headers },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += String(d)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('the VCH listener', () => {
  it('answers 431 to headers over the limit, and serves the next request', async () => {
    const big = 'x'.repeat(MAX_HEADER_BYTES + 1);
    expect(await rawStatus(`GET /_ping HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\n\r\n`)).toBe(
      'HTTP/1.1 431 Request Header Fields Too Large',
    );
    expect((await fetch(`http://127.0.0.1:${port}/_ping`)).status).toBe(200);
  });

  it('answers 413 to a JSON body over 1 MiB, on the persona and the portlayer', async () => {
    const body = JSON.stringify({ Image: 'x', Labels: { pad: 'y'.repeat(1 << 20) } });
    for (const path of ['/containers/create', '/portlayer/containers']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(413);
      expect(await res.text()).toContain('request body larger than 1048576 bytes');
    }
  });

  it('answers 413 to a docker load archive declared over 16 GiB, before reading it', async () => {
    const status = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => {
        got += d.toString('latin1');
        if (got.includes('refused')) s.destroy();
      });
      s.on('error', reject);
      s.on('close', () => resolve(got));
      s.write(
        `POST /images/load HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-tar\r\nContent-Length: ${17 * 1024 ** 3}\r\n\r\n`,
      );
    });
    expect(status.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
    expect(status).toContain('image archive larger than 16 GiB: refused');
  });
});

describe('the kubelet API', () => {
  it('answers 431 to headers over the limit', async () => {
    const big = 'x'.repeat(MAX_HEADER_BYTES + 1);
    const status = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: kubeletPort, ca });
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('error', reject);
      s.on('close', () => resolve(got.split('\r\n')[0]));
      s.write(`GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\n\r\n`);
    });
    expect(status).toBe('HTTP/1.1 431 Request Header Fields Too Large');
  });

  it('answers 413 to a declared body it would not read', async () => {
    const res = await kubeletGet({ 'content-length': String(10 << 20) });
    expect(res.status).toBe(413);
    expect(res.body).toContain('request body larger than 65536 bytes');
  });
});
