// The exec endpoint of the kubelet API end to end in one process: a KubeletServer with a test
// double provider and authenticator, a SPDY client built on this project's framer (the real Go
// peer is in test/integration/node-exec.test.ts).
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forbidden, unauthorized } from '../../errdefs.js';
import { createLogger } from '../../logging/logger.js';
import { notFound, notImplemented } from '../errors.js';
import type { ExecIO, Provider } from '../provider.js';
import type { Authenticator } from './auth.js';
import { KubeletServer } from './server.js';
import { SpdySession } from './spdy/session.js';
import type { SpdyStream } from './spdy/stream.js';

let port: number;
let server: KubeletServer;
const calls: { command: string[]; io: ExecIO }[] = [];

/** Runs the test's scripts, one step a word: "out:TEXT", "err:TEXT", "exit:N". */
const provider = {
  getPod: async (ns: string, name: string) =>
    ns === 'ns' && name === 'web' ? { metadata: { name, namespace: ns } } : undefined,
  async runInContainer(
    _ns: string,
    _pod: string,
    container: string,
    command: string[],
    io: ExecIO,
  ) {
    calls.push({ command, io });
    if (container !== 'app') throw notFound(`container ${container} is not in pod ns/web`);
    if (io.stdin || io.tty)
      throw notImplemented('interactive exec is not supported by this node yet');
    let exitCode = 0;
    for (const step of command) {
      const [op, ...rest] = step.split(':');
      const text = rest.join(':');
      const write = (w: Writable | undefined) =>
        new Promise<void>((r) => w!.write(text, () => r()));
      if (op === 'out') await write(io.stdout);
      if (op === 'err') await write(io.stderr);
      if (op === 'exit') exitCode = Number(text);
    }
    return { exitCode };
  },
} as unknown as Provider;

const auth = {
  async check(req: { headers: Record<string, string | undefined> }) {
    const a = req.headers.authorization;
    if (a === 'Bearer good') return { ok: true, caller: { user: 'admin', groups: [] } };
    if (a === 'Bearer viewer') return { ok: false, error: forbidden('Forbidden (user=viewer)') };
    return { ok: false, error: unauthorized('Unauthorized') };
  },
} as unknown as Authenticator;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vk-exec-'));
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

interface Upgraded {
  status: number;
  headers: string;
  body: string;
  socket: TLSSocket;
  rest: Buffer;
}

/** Sends one HTTP request by hand and reads its response head (and a short body, if any). */
async function request(path: string, headers: Record<string, string | string[]>, method = 'POST') {
  const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: kubelet'];
  for (const [k, v] of Object.entries(headers))
    for (const x of [v].flat()) lines.push(`${k}: ${x}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  while (!buf.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    buf = Buffer.concat([buf, chunk]);
  }
  const end = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, end).toString();
  const status = Number(head.split(' ')[1]);
  let rest = buf.subarray(end + 4);
  if (status !== 101) {
    socket.on('data', (c: Buffer) => (rest = Buffer.concat([rest, c])));
    await once(socket, 'close');
  }
  return { status, headers: head, body: rest.toString(), socket, rest } as Upgraded;
}

const V = 'X-Stream-Protocol-Version';
const execPath = (...cmd: string[]) =>
  `/exec/ns/web/app?${cmd.map((c) => `command=${encodeURIComponent(c)}`).join('&')}&output=1&error=1`;
const upgrade = { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', Authorization: 'Bearer good' };

async function readAll(s: SpdyStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s.iterator({ destroyOnReturn: false })) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** An exec over SPDY: its 101 head, and what came on stdout, stderr and error. */
async function spdyExec(path: string, protocols: string[], types = ['error', 'stdout', 'stderr']) {
  const r = await request(path, { ...upgrade, [V]: protocols });
  expect(r.status).toBe(101);
  const session = new SpdySession(r.socket, { server: false });
  const streams = await Promise.all(types.map((t) => session.openStream({ streamtype: [t] })));
  for (const s of streams) if (s.header('streamtype') !== 'stdin') s.end();
  // stdin is the client's to write: only the server's three are read.
  const [error, stdout, stderr] = await Promise.all(streams.slice(0, 3).map(readAll));
  return { head: r.headers, error: error!, stdout, stderr, session };
}

describe('kubelet API exec over SPDY/3.1', () => {
  it('runs the command, echoes the protocol, and tells a non-zero exit in a v4 Status', async () => {
    const r = await spdyExec(execPath('out:hi\n', 'err:oops', 'exit:7'), [
      'v4.channel.k8s.io',
      'v3.channel.k8s.io',
    ]);
    expect(r.head).toMatch(/^X-Stream-Protocol-Version: v4\.channel\.k8s\.io$/m);
    expect(r.stdout).toBe('hi\n');
    expect(r.stderr).toBe('oops');
    expect(JSON.parse(r.error)).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: exit status 7',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '7' }] },
    });
    expect(calls.at(-1)!.command).toEqual(['out:hi\n', 'err:oops', 'exit:7']);
  });

  it('answers Success in v4 and nothing before v4 for exit 0', async () => {
    expect(JSON.parse((await spdyExec(execPath('out:a'), ['v4.channel.k8s.io'])).error)).toEqual({
      metadata: {},
      status: 'Success',
    });
    const v2 = await spdyExec(execPath('out:a'), ['v2.channel.k8s.io']);
    expect(v2.head).toMatch(/^X-Stream-Protocol-Version: v2\.channel\.k8s\.io$/m);
    expect(v2.error).toBe('');
    expect(v2.stdout).toBe('a');
  });

  it('tells a provider refusal on the error stream', async () => {
    const path = '/exec/ns/web/app?command=sh&input=1&output=1&error=1';
    const r = await spdyExec(path, ['v4.channel.k8s.io'], ['error', 'stdout', 'stderr', 'stdin']);
    expect(JSON.parse(r.error)).toMatchObject({
      status: 'Failure',
      message: 'interactive exec is not supported by this node yet',
      reason: 'NotImplemented',
      code: 501,
    });
    const old = await spdyExec(execPath('x').replace('/app?', '/nope?'), ['v3.channel.k8s.io']);
    expect(old.error).toBe('container nope is not in pod ns/web');
  });

  it('refuses with 403 and the accepted versions when no protocol fits', async () => {
    const r = await request(execPath('x'), { ...upgrade, [V]: 'v9.channel.k8s.io' });
    expect(r.status).toBe(403);
    expect(r.headers).toMatch(/^X-Accepted-Stream-Protocol-Versions: v4\.channel\.k8s\.io$/m);
    expect(r.headers).toMatch(/^X-Accepted-Stream-Protocol-Versions: channel\.k8s\.io$/m);
    expect((await request(execPath('x'), upgrade)).status).toBe(400);
  });

  it('authenticates and authorizes the upgrade', async () => {
    const anon = await request(execPath('x'), {
      ...upgrade,
      Authorization: '',
      [V]: 'v4.channel.k8s.io',
    });
    expect(anon.status).toBe(401);
    const viewer = await request(execPath('x'), {
      ...upgrade,
      Authorization: 'Bearer viewer',
      [V]: 'v4.channel.k8s.io',
    });
    expect(viewer.status).toBe(403);
    expect(viewer.body).toMatch(/Forbidden/);
  });

  it.each([
    [
      'an exec that is not an upgrade',
      execPath('x'),
      { Connection: 'close' },
      400,
      /Upgrade request required/,
    ],
    ['no command', '/exec/ns/web/app?output=1', upgrade, 400, /needs a command/],
    ['no stream', '/exec/ns/web/app?command=x', upgrade, 400, /at least 1 of stdin/],
    ['a pod not on this node', '/exec/ns/other/app?command=x&output=1', upgrade, 404, /not on/],
    [
      'an unknown upgrade',
      execPath('x'),
      { ...upgrade, Upgrade: 'h2c' },
      400,
      /SPDY\/3.1 or websocket/,
    ],
  ])('refuses %s', async (_what, path, h, status, body) => {
    const r = await request(path, { Authorization: 'Bearer good', [V]: 'v4.channel.k8s.io', ...h });
    expect(r.status).toBe(status);
    expect(r.body).toMatch(body);
  });

  it('closes the connection on a protocol error after the upgrade', async () => {
    const r = await request(execPath('x'), { ...upgrade, [V]: 'v4.channel.k8s.io' });
    r.socket.write(Buffer.from('8003000600000008' + '0000000100000002', 'hex'));
    await once(r.socket, 'close');
  });
});

describe('kubelet API /run', () => {
  it('answers the output of a command', async () => {
    const r = await request('/run/ns/web/app?cmd=out:hello%20out:!', {
      Authorization: 'Bearer good',
      Connection: 'close',
    });
    expect(r.status).toBe(200);
    expect(r.body).toBe('hello!');
    expect(calls.at(-1)!.command).toEqual(['out:hello', 'out:!']);
  });
});
