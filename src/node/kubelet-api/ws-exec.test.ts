// The exec endpoint over WebSocket end to end in one process: a KubeletServer with a test double
// provider (it echoes stdin to stdout, records resizes, exits with the command's number) and
// the `ws` client speaking each channel protocol.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { unauthorized } from '../../errdefs.js';
import { createLogger } from '../../logging/logger.js';
import type { ExecIO, Provider } from '../provider.js';
import type { Authenticator } from './auth.js';
import { KubeletServer } from './server.js';

let port: number;
let server: KubeletServer;
const sizes: string[] = [];

const provider = {
  getPod: async (ns: string, name: string) =>
    ns === 'ns' && name === 'web' ? { metadata: { name, namespace: ns } } : undefined,
  async runInContainer(_ns: string, _pod: string, _c: string, command: string[], io: ExecIO) {
    const resizing = (async () => {
      for await (const s of io.resize ?? []) sizes.push(`${s.width}x${s.height}`);
    })();
    if (io.stdin) for await (const chunk of io.stdin) io.stdout!.write(chunk);
    else io.stdout?.write('no input\n');
    io.stderr?.write('to stderr\n');
    if (io.tty) await resizing;
    return { exitCode: Number(command[0]) };
  },
} as unknown as Provider;

const auth = {
  async check(req: { headers: Record<string, string | undefined> }) {
    if (req.headers.authorization === 'Bearer good')
      return { ok: true, caller: { user: 'admin', groups: [] } };
    return { ok: false, error: unauthorized('Unauthorized') };
  },
} as unknown as Authenticator;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vk-ws-exec-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=kubelet', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' }); // prettier-ignore
  server = new KubeletServer(
    provider,
    auth,
    {
      cert: readFileSync(join(dir, 'cert.pem')),
      key: readFileSync(join(dir, 'key.pem')),
      host: '127.0.0.1',
      port: 0,
    },
    createLogger({ level: 'silent' }),
  );
  port = await server.start();
});
afterAll(() => server.stop());

interface Session {
  protocol: string;
  /** Data by channel, in order (base64 decoded). */
  channels: Map<number, Buffer>;
  ws: WebSocket;
  closed: Promise<void>;
}

function open(query: string, protocols: string[], token = 'good'): Promise<Session> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/exec/ns/web/app?${query}`, protocols, {
    rejectUnauthorized: false,
    headers: { Authorization: `Bearer ${token}` },
  });
  const channels = new Map<number, Buffer>();
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  ws.on('message', (data: Buffer, isBinary) => {
    const [c, payload] = isBinary
      ? [data[0]!, data.subarray(1)]
      : [data.toString().charCodeAt(0) - 48, Buffer.from(data.toString().slice(1), 'base64')];
    channels.set(c, Buffer.concat([channels.get(c) ?? Buffer.alloc(0), payload]));
  });
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ protocol: ws.protocol, channels, ws, closed }));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
  });
}

const text = (s: Session, c: number) => s.channels.get(c)?.toString() ?? '';

describe('kubelet API exec over WebSocket', () => {
  it('v5: stdin through, closed by the close channel; output and a v4 Status', async () => {
    const s = await open('command=7&input=1&output=1&error=1', [
      'v5.channel.k8s.io',
      'v4.channel.k8s.io',
    ]);
    expect(s.protocol).toBe('v5.channel.k8s.io');
    s.ws.send(Buffer.concat([Buffer.of(0), Buffer.from('hello ')]));
    s.ws.send(Buffer.concat([Buffer.of(0), Buffer.from('there\n')]));
    s.ws.send(Buffer.of(255, 0));
    await s.closed;
    expect(text(s, 1)).toBe('hello there\n');
    expect(text(s, 2)).toBe('to stderr\n');
    const status = JSON.parse(text(s, 3)) as { status: string; reason: string; details: unknown };
    expect(status).toMatchObject({
      status: 'Failure',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '7' }] },
    });
  });

  it('v4.base64: text messages both ways; a terminal resized', async () => {
    sizes.length = 0;
    const s = await open('command=0&input=1&output=1&tty=1', ['v4.base64.channel.k8s.io']);
    expect(s.protocol).toBe('v4.base64.channel.k8s.io');
    s.ws.send('4' + Buffer.from('{"Width":100,"Height":30}').toString('base64'));
    s.ws.send('0' + Buffer.from('typed').toString('base64'));
    await new Promise((r) => setTimeout(r, 100));
    s.ws.close();
    await s.closed;
    expect(text(s, 1)).toBe('typed');
    expect(sizes).toEqual(['100x30']);
  });

  it('channel.k8s.io (v1): no stdin, output only; exit 0 leaves the error channel empty', async () => {
    const s = await open('command=0&output=1&error=1', ['channel.k8s.io']);
    await s.closed;
    expect(text(s, 1)).toBe('no input\n');
    expect(text(s, 3)).toBe('');
  });

  it('refuses an unknown protocol and an unauthenticated caller', async () => {
    await expect(open('command=0&output=1', ['v9.channel.k8s.io'])).rejects.toThrow(/400/);
    await expect(open('command=0&output=1', ['v5.channel.k8s.io'], 'bad')).rejects.toThrow(/401/);
  });

  it('closes on a malformed message, and on one over the size limit', async () => {
    const s = await open('command=0&input=1&output=1', ['v4.base64.channel.k8s.io']);
    s.ws.send('x!!!');
    await s.closed;
    const big = await open('command=0&input=1&output=1', ['v5.channel.k8s.io']);
    big.ws.send(Buffer.alloc((1 << 20) + 16));
    await big.closed;
  });
});
