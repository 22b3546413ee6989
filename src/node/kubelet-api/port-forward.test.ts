// The kubelet API's port-forward over SPDY with a test double of the provider: pairs of
// streams (error, data) by request id carry a connection each; a failed connect is written on
// the pair's error stream in the kubelet's words; ports and paths are checked.
import { createServer, connect, type Socket } from 'node:net';
import { PassThrough, Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Provider } from '../provider.js';
import { forwardError, parseForwardPort, serveSpdyPortForward } from './port-forward.js';
import { portForwardTarget } from './port-forward-route.js';
import { wsForwardPorts } from './port-forward-ws.js';
import { SpdySession } from './spdy/session.js';
import type { IncomingMessage } from 'node:http';

const log = pino({ level: 'silent' });

/** A provider whose port 7 echoes and whose other ports refuse. */
const provider = {
  portForward: async (_ns: string, _pod: string, port: number) => {
    if (port !== 7) throw new Error('connection refused');
    const echo = new PassThrough();
    return Duplex.from({ readable: echo, writable: echo });
  },
} as unknown as Provider;

async function session(): Promise<SpdySession> {
  const server = createServer((sock: Socket) => {
    const req = {
      headersDistinct: { 'x-stream-protocol-version': ['portforward.k8s.io'] },
    } as unknown as IncomingMessage;
    void serveSpdyPortForward(
      req,
      sock,
      Buffer.alloc(0),
      provider,
      { namespace: 'n', pod: 'p' },
      log,
    );
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const sock = connect((server.address() as { port: number }).port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  // Skip the 101 answer.
  await new Promise<void>((resolve) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      const rest = Buffer.from(got.slice(end + 4), 'latin1');
      if (rest.length) sock.unshift(rest);
      resolve();
    };
    sock.on('data', onData);
  });
  server.close();
  return new SpdySession(sock, { server: false });
}

const text = async (s: NodeJS.ReadableStream) => {
  let t = '';
  for await (const c of s) t += String(c);
  return t;
};

describe('port-forward over SPDY', () => {
  it('carries each pair’s connection, several at once', async () => {
    const s = await session();
    const pair = async (id: string, port: string) => {
      const h = (t: string) => ({ streamtype: [t], port: [port], requestid: [id] });
      const error = await s.openStream(h('error'), true);
      const data = await s.openStream(h('data'));
      return { error, data };
    };
    const [a, b] = await Promise.all([pair('0', '7'), pair('1', '7')]);
    a.data.end('hello a');
    b.data.end('hello b');
    expect(await text(a.data)).toBe('hello a');
    expect(await text(b.data)).toBe('hello b');
    expect(await text(a.error)).toBe('');
    await s.close();
  });

  it('writes a failed connect on the error stream, in the kubelet’s words', async () => {
    const s = await session();
    const h = (t: string) => ({ streamtype: [t], port: ['9'], requestid: ['5'] });
    const error = await s.openStream(h('error'), true);
    const data = await s.openStream(h('data'));
    expect(await text(error)).toBe('error forwarding port 9 to pod p, uid : connection refused');
    // The data stream is closed by the node (FIN), as the kubelet closes it.
    expect(await text(data)).toBe('');
    await s.close();
  });

  it('resets a stream without a valid port or type', async () => {
    const s = await session();
    const bad = await s.openStream({ streamtype: ['data'], port: ['0'], requestid: ['1'] });
    await new Promise((r) => bad.once('close', r));
    expect(bad.resetStatus).toBeDefined();
    await s.close();
  });
});

describe('port-forward requests', () => {
  it('checks ports, paths and the WebSocket port list', () => {
    expect(parseForwardPort('8080')).toBe(8080);
    for (const bad of [undefined, '', '0', '65536', '-1', '80a', '123456'])
      expect(parseForwardPort(bad)).toBeUndefined();
    expect(portForwardTarget(['portForward', 'ns', 'pod'])).toEqual({
      namespace: 'ns',
      pod: 'pod',
    });
    expect(portForwardTarget(['portForward', 'ns', 'pod', 'u1'])).toEqual({
      namespace: 'ns',
      pod: 'pod',
      uid: 'u1',
    });
    expect(() => portForwardTarget(['portForward', 'ns'])).toThrow(/want/);
    expect(() => portForwardTarget(['portForward', 'ns', '%zz'])).toThrow(/escape/);
    expect(wsForwardPorts(new URLSearchParams('port=80,81&port=82'))).toEqual([80, 81, 82]);
    expect(() => wsForwardPorts(new URLSearchParams(''))).toThrow(/required/);
    expect(() => wsForwardPorts(new URLSearchParams('port=0'))).toThrow(/1 to 65535/);
    expect(forwardError({ namespace: 'n', pod: 'p', uid: 'u' }, 80, 'why')).toBe(
      'error forwarding port 80 to pod p, uid u: why',
    );
  });
});
