import { once } from 'node:events';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, type Frame, FrameParser, GoAwayStatus, RstStatus } from './frames.js';
import { HeaderCompressor } from './header-block.js';
import { MAX_PEER_STREAMS, SpdySession, type SpdySessionOptions } from './session.js';
import type { SpdyStream } from './stream.js';

let server: Server | undefined;
const cleanup: (() => void)[] = [];
afterEach(() => {
  cleanup.splice(0).forEach((f) => f());
  server?.close();
  server = undefined;
});

/** A server session on one end of a loopback connection; the raw client socket on the other. */
async function pair(
  o: Partial<SpdySessionOptions> = {},
): Promise<{ srv: SpdySession; raw: Socket }> {
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer((s) => resolve(s));
  });
  server!.listen(0, '127.0.0.1');
  await once(server!, 'listening');
  const raw = connect((server!.address() as { port: number }).port, '127.0.0.1');
  await once(raw, 'connect');
  const srv = new SpdySession(await accepted, {
    server: true,
    maxHeaderBytes: 8192,
    ...o,
  });
  cleanup.push(() => raw.destroy());
  return { srv, raw };
}

async function sessions(): Promise<{ srv: SpdySession; cli: SpdySession }> {
  const { srv, raw } = await pair();
  return { srv, cli: new SpdySession(raw, { server: false }) };
}

async function readAll(s: SpdyStream): Promise<string> {
  const chunks: Buffer[] = [];
  // Not destroyed at the end of the loop: the other half may still write.
  for await (const c of s.iterator({ destroyOnReturn: false })) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Frames the raw socket receives until it closes. */
async function framesUntilClose(raw: Socket): Promise<Frame[]> {
  const p = new FrameParser();
  const got: Frame[] = [];
  raw.on('data', (c: Buffer) => got.push(...p.push(c)));
  await once(raw, 'close');
  return got;
}

describe('SPDY session', () => {
  it('opens streams with headers, replies, carries data both ways with half-close', async () => {
    const { srv, cli } = await sessions();
    srv.on('stream', (s) => {
      expect(s.header('streamtype')).toBe('stdin');
      void s.reply({ ok: ['yes'] });
      void readAll(s).then((text) => s.end(`echo:${text}`));
    });
    const s = await cli.openStream({ streamtype: ['stdin'] });
    const reply = once(s, 'reply');
    s.end('ping-data');
    expect((await reply)[0]).toEqual({ ok: ['yes'] });
    expect(await readAll(s)).toBe('echo:ping-data');
  });

  it('keeps header compression in step across many streams both ways', async () => {
    const { srv, cli } = await sessions();
    srv.on('stream', (s) => void s.reply({ n: [s.header('n')!] }, true));
    const replies = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const s = await cli.openStream({ n: [String(i)], streamtype: ['data'] }, true);
        return ((await once(s, 'reply')) as [Record<string, string[]>])[0].n![0];
      }),
    );
    expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
  });

  it('sends 8 MiB without any WINDOW_UPDATE from the peer', async () => {
    const { srv, cli } = await sessions();
    const big = Buffer.alloc(8 << 20, 7);
    srv.on('stream', (s) => void s.reply().then(() => s.end(big)));
    const s = await cli.openStream({}, true);
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
  });

  it('resets a stream either way', async () => {
    const { srv, cli } = await sessions();
    const got = new Promise<SpdyStream>((resolve) => srv.on('stream', resolve));
    const s = await cli.openStream({});
    const remote = await got;
    const closed = once(remote, 'close');
    s.reset(RstStatus.CANCEL);
    await closed;
    expect(remote.resetStatus).toBe(RstStatus.CANCEL);
    // The session goes on.
    expect(await cli.ping()).toBeGreaterThanOrEqual(0);
  });

  it('answers PING and ignores SETTINGS, WINDOW_UPDATE and unknown control frames', async () => {
    const { srv, raw } = await pair();
    const p = new FrameParser();
    const got: Frame[] = [];
    raw.on('data', (c: Buffer) => got.push(...p.push(c)));
    raw.write(
      Buffer.concat([
        encodeFrame({ type: 'settings', clear: false, entries: [{ flags: 0, id: 7, value: 1 }] }),
        encodeFrame({ type: 'window_update', streamId: 0, delta: 1000 }),
        encodeFrame({ type: 'unknown', frameType: 10, flags: 0, payload: Buffer.from('x') }),
        encodeFrame({ type: 'ping', id: 1 }),
      ]),
    );
    while (got.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(got).toEqual([{ type: 'ping', id: 1 }]);
    expect(srv.peerSettings.get(7)).toBe(1);
    expect(srv.isClosed).toBe(false);
  });

  it('resets DATA for a stream that is not open', async () => {
    const { raw } = await pair();
    const p = new FrameParser();
    const got: Frame[] = [];
    raw.on('data', (c: Buffer) => got.push(...p.push(c)));
    raw.write(encodeFrame({ type: 'data', streamId: 9, fin: false, data: Buffer.from('x') }));
    while (got.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(got).toEqual([{ type: 'rst_stream', streamId: 9, status: RstStatus.INVALID_STREAM }]);
  });

  const syn = async (c: HeaderCompressor, streamId: number, headers = {}) =>
    encodeFrame({
      type: 'syn_stream',
      streamId,
      associatedId: 0,
      priority: 0,
      slot: 0,
      fin: false,
      unidirectional: false,
      headerBlock: await c.compress(headers),
    });

  const closesWithGoAway = async (wire: (c: HeaderCompressor) => Promise<Buffer>) => {
    const { srv, raw } = await pair();
    const closed = once(srv, 'close');
    const frames = framesUntilClose(raw);
    raw.write(await wire(new HeaderCompressor()));
    const [err] = (await closed) as [Error | undefined];
    expect(err).toBeInstanceOf(Error);
    const goaway = (await frames).find((f) => f.type === 'goaway');
    expect(goaway).toMatchObject({ status: GoAwayStatus.PROTOCOL_ERROR });
    return { err: err!, goaway: goaway as Extract<Frame, { type: 'goaway' }> };
  };

  it('closes with GOAWAY when a stream id is reused', async () => {
    const { err, goaway } = await closesWithGoAway(async (c) =>
      Buffer.concat([await syn(c, 1), await syn(c, 3), await syn(c, 3)]),
    );
    expect(err.message).toMatch(/reuses stream id 3/);
    expect(goaway.lastGoodStreamId).toBe(3);
  });

  it('closes with GOAWAY when a stream id goes backwards or has the wrong parity', async () => {
    await closesWithGoAway(async (c) => Buffer.concat([await syn(c, 5), await syn(c, 3)]));
    await closesWithGoAway(async (c) => syn(c, 2));
  });

  it('closes with GOAWAY on a control frame of a bad length', async () => {
    const { err } = await closesWithGoAway(async () =>
      Buffer.from('8003000600000008' + '0000000100000002', 'hex'),
    );
    expect(err.message).toMatch(/bad length/);
  });

  it('closes with GOAWAY on a header block that is too large or not zlib', async () => {
    const { err } = await closesWithGoAway((c) => syn(c, 1, { big: ['y'.repeat(50_000)] }));
    expect(err.message).toMatch(/over 8192 bytes/);
    await closesWithGoAway(async () =>
      encodeFrame({
        type: 'syn_stream',
        streamId: 1,
        associatedId: 0,
        priority: 0,
        slot: 0,
        fin: false,
        unidirectional: false,
        headerBlock: Buffer.from('garbage'),
      }),
    );
  });

  it('ends its streams when the connection drops', async () => {
    const { srv, raw } = await pair();
    const got = new Promise<SpdyStream>((resolve) => srv.on('stream', resolve));
    raw.write(await syn(new HeaderCompressor(), 1));
    const s = await got;
    const closed = once(s, 'close');
    raw.destroy();
    await closed;
    expect(srv.isClosed).toBe(true);
  });

  it('refuses new streams after its GOAWAY', async () => {
    const { srv, cli } = await sessions();
    const goaway = once(cli, 'goaway');
    await srv.close();
    expect((await goaway)[0]).toBe(GoAwayStatus.OK);
    await expect(cli.openStream({})).rejects.toThrow(/closing/);
  });

  /** Frames the raw socket receives, as they come. */
  const collect = (raw: Socket) => {
    const p = new FrameParser();
    const got: Frame[] = [];
    raw.on('data', (c: Buffer) => got.push(...p.push(c)));
    return got;
  };
  const until = async (cond: () => boolean) => {
    while (!cond()) await new Promise((r) => setTimeout(r, 5));
  };

  it('refuses a stream past its cap with RST_STREAM REFUSED_STREAM, and takes one again once another closed', async () => {
    const { srv, raw } = await pair({ maxPeerStreams: 3 });
    const opened: number[] = [];
    srv.on('stream', (s) => opened.push(s.id));
    const got = collect(raw);
    const c = new HeaderCompressor();
    raw.write(Buffer.concat([await syn(c, 1), await syn(c, 3), await syn(c, 5), await syn(c, 7)]));
    await until(() => got.length > 0);
    expect(got).toEqual([{ type: 'rst_stream', streamId: 7, status: RstStatus.REFUSED_STREAM }]);
    expect(opened).toEqual([1, 3, 5]);
    // The peer resets one of its streams: there is room for one more, not two.
    raw.write(encodeFrame({ type: 'rst_stream', streamId: 3, status: RstStatus.CANCEL }));
    raw.write(Buffer.concat([await syn(c, 9), await syn(c, 11)]));
    await until(() => got.length > 1);
    expect(got[1]).toEqual({
      type: 'rst_stream',
      streamId: 11,
      status: RstStatus.REFUSED_STREAM,
    });
    expect(opened).toEqual([1, 3, 5, 9]);
    expect(srv.isClosed).toBe(false);
    expect(await new SpdySession(raw, { server: false }).ping()).toBeGreaterThanOrEqual(0);
  });

  it('caps streams at MAX_PEER_STREAMS (1000) by default: 500 port-forward connections', async () => {
    expect(MAX_PEER_STREAMS).toBe(1000);
    const { srv, raw } = await pair();
    let opened = 0;
    srv.on('stream', () => opened++);
    const got = collect(raw);
    const c = new HeaderCompressor();
    const frames: Buffer[] = [];
    for (let i = 0; i <= MAX_PEER_STREAMS; i++)
      frames.push(await syn(c, 2 * i + 1, { streamtype: ['data'], port: ['80'] }));
    raw.write(Buffer.concat(frames));
    await until(() => got.length > 0);
    expect(opened).toBe(MAX_PEER_STREAMS);
    expect(got).toEqual([
      { type: 'rst_stream', streamId: 2 * MAX_PEER_STREAMS + 1, status: RstStatus.REFUSED_STREAM },
    ]);
  });
});
