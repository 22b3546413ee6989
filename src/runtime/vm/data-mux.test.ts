// The host's side of the data port against a guest played by the test over a real unix socket:
// frames split anywhere, credit both ways, and a hostile guest (channels it was not handed,
// bytes past its window, frames that cannot be frames).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BadFrameError,
  creditFrame,
  DATA_WINDOW,
  encodeFrame,
  FRAME,
  FRAME_HEADER,
  FRAME_MAX,
  FrameReader,
  type Frame,
} from './data-frames.js';
import { DataMux, type DataChannel } from './data-mux.js';

const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe('FrameReader', () => {
  it('finds frames split at any byte', () => {
    const frames = [
      encodeFrame(1, FRAME.data, Buffer.from('hello')),
      encodeFrame(2, FRAME.eof),
      creditFrame(3, 70000),
      encodeFrame(0xffffffff, FRAME.stderr, Buffer.alloc(FRAME_MAX, 7)),
    ];
    const bytes = Buffer.concat(frames);
    const r = new FrameReader();
    const got: Frame[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...r.push(bytes.subarray(i, i + 1)));
    expect(got.map((f) => [f.chan, f.type, f.data.length])).toEqual([
      [1, FRAME.data, 5],
      [2, FRAME.eof, 0],
      [3, FRAME.credit, 4],
      [0xffffffff, FRAME.stderr, FRAME_MAX],
    ]);
    expect(got[0]!.data.toString()).toBe('hello');
    expect(got[2]!.data.readUInt32BE(0)).toBe(70000);
    expect(r.held).toBe(0);
  });

  it('refuses a length past FRAME_MAX and a reserved byte set, holding no more than a frame', () => {
    const long = Buffer.alloc(FRAME_HEADER);
    long.writeUInt16BE(FRAME_MAX + 1, 6);
    expect(() => new FrameReader().push(long)).toThrow(BadFrameError);
    const reserved = encodeFrame(1, FRAME.data, Buffer.from('x'));
    reserved[5] = 1;
    expect(() => new FrameReader().push(reserved)).toThrow(/reserved/);
    const r = new FrameReader();
    const big = encodeFrame(1, FRAME.data, Buffer.alloc(FRAME_MAX));
    r.push(big.subarray(0, big.length - 1));
    expect(r.held).toBe(FRAME_HEADER + FRAME_MAX - 1);
    expect(() => encodeFrame(1, FRAME.data, Buffer.alloc(FRAME_MAX + 1))).toThrow(RangeError);
  });
});

/** The guest's end: the frames the host sent it. */
class Guest {
  readonly frames: Frame[] = [];
  private readonly reader = new FrameReader();
  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => this.frames.push(...this.reader.push(c)));
  }
  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }
  /** DATA bytes the host sent on chan. */
  dataOn(chan: number): number {
    return this.frames
      .filter((f) => f.chan === chan && f.type === FRAME.data)
      .reduce((n, f) => n + f.data.length, 0);
  }
  creditsOn(chan: number): number {
    return this.frames
      .filter((f) => f.chan === chan && f.type === FRAME.credit)
      .reduce((n, f) => n + f.data.readUInt32BE(0), 0);
  }
  typesOn(chan: number): number[] {
    return this.frames.filter((f) => f.chan === chan).map((f) => f.type);
  }
}

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

async function pair(): Promise<{ mux: DataMux; guest: Guest; logged: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'data-mux-test-'));
  const path = join(dir, 's');
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const mux = await DataMux.connect(path);
  const guest = new Guest(await accepted);
  server.close();
  rmSync(dir, { recursive: true, force: true });
  const logged: string[] = [];
  mux.log = (m) => logged.push(m);
  cleanups.push(() => {
    mux.close();
    guest.socket.destroy();
  });
  return { mux, guest, logged };
}

const errorOf = (ch: DataChannel) =>
  new Promise<Error | undefined>((r) => ch.once('close', () => r(ch.errored ?? undefined)));

describe('DataMux', () => {
  it('hands out channel numbers itself and drops frames for any other', async () => {
    const { mux, guest } = await pair();
    const a = mux.open();
    const b = mux.open();
    expect([a.id, b.id]).toEqual([1, 2]);
    const got: string[] = [];
    a.on('data', (d: Buffer) => got.push(d.toString()));
    guest.send(
      encodeFrame(99, FRAME.data, Buffer.from('not yours')),
      encodeFrame(0, FRAME.eof),
      encodeFrame(1, FRAME.data, Buffer.from('yours')),
    );
    await tick();
    expect(got).toEqual(['yours']);
    expect(mux.size).toBe(2);
  });

  it('sends no more than the guest credited, and the rest once it credits more', async () => {
    const { mux, guest } = await pair();
    const ch = mux.open();
    const data = Buffer.alloc(DATA_WINDOW + 100_000, 1);
    let written = false;
    ch.write(data, () => (written = true));
    ch.end();
    await tick();
    // Nothing, not even the EOF, before the guest opens its side with a first window.
    expect(guest.frames).toEqual([]);
    guest.send(creditFrame(ch.id, DATA_WINDOW));
    await tick();
    expect(guest.dataOn(ch.id)).toBe(DATA_WINDOW);
    expect(written).toBe(false);
    guest.send(creditFrame(ch.id, 60_000));
    await tick();
    expect(guest.dataOn(ch.id)).toBe(DATA_WINDOW + 60_000);
    guest.send(creditFrame(ch.id, DATA_WINDOW));
    await tick();
    expect(guest.dataOn(ch.id)).toBe(data.length);
    expect(written).toBe(true);
    expect(Math.max(...guest.frames.map((f) => f.data.length))).toBeLessThanOrEqual(FRAME_MAX);
    await tick();
    expect(guest.typesOn(ch.id).at(-1)).toBe(FRAME.eof);
  });

  it('credits the guest only as the reader takes its bytes', async () => {
    const { mux, guest } = await pair();
    const ch = mux.open();
    for (let i = 0; i < DATA_WINDOW / FRAME_MAX; i++)
      guest.send(encodeFrame(ch.id, FRAME.data, Buffer.alloc(FRAME_MAX, 2)));
    await tick();
    // Nobody reads: past the readable's buffer, nothing is credited back.
    expect(guest.creditsOn(ch.id)).toBeLessThan(DATA_WINDOW / 2);
    let read = 0;
    ch.on('data', (d: Buffer) => (read += d.length));
    await tick();
    expect(read).toBe(DATA_WINDOW);
    expect(guest.creditsOn(ch.id)).toBe(DATA_WINDOW);
  });

  it('resets a channel the guest sends past its window, and only that one', async () => {
    const { mux, guest, logged } = await pair();
    const bad = mux.open();
    const good = mux.open();
    const closed = errorOf(bad);
    guest.send(creditFrame(bad.id, DATA_WINDOW)); // the guest opens its side
    // Nobody reads it: the host credits at most its readable's buffer (64 KiB) on top of the
    // window, and this guest ignores credit anyway.
    for (let i = 0; i < (DATA_WINDOW + 64 * 1024) / FRAME_MAX + 1; i++)
      guest.send(encodeFrame(bad.id, FRAME.data, Buffer.alloc(FRAME_MAX)));
    expect((await closed)?.message).toMatch(/past its window/);
    await tick();
    expect(guest.typesOn(bad.id)).toContain(FRAME.reset);
    expect(logged.join()).toMatch(/past its window/);
    expect(good.destroyed).toBe(false);
    expect(mux.size).toBe(1);
  });

  it('resets a channel on a malformed credit or an unknown frame type', async () => {
    const { mux, guest } = await pair();
    const a = mux.open();
    const b = mux.open();
    const [ea, eb] = [errorOf(a), errorOf(b)];
    guest.send(encodeFrame(a.id, FRAME.credit, Buffer.alloc(3)), encodeFrame(b.id, 9));
    expect((await ea)?.message).toMatch(/malformed credit/);
    expect((await eb)?.message).toMatch(/unknown type 9/);
  });

  it('closes the port on a frame that cannot be one: every channel fails', async () => {
    const { mux, guest, logged } = await pair();
    const chans = [mux.open(), mux.open()];
    const errors = chans.map(errorOf);
    const h = Buffer.alloc(FRAME_HEADER);
    h.writeUInt16BE(0xffff, 6);
    guest.send(h);
    for (const e of await Promise.all(errors)) expect(e?.message).toMatch(/went away/);
    expect(mux.isClosed).toBe(true);
    expect(logged.join()).toMatch(/a frame of 65535 bytes/);
    expect(() => mux.open()).toThrow(/not running/);
  });

  it("ends the readables at the guest's EOF, and forgets a channel done both ways", async () => {
    const { mux, guest } = await pair();
    const ch = mux.open();
    const out: string[] = [];
    const err: string[] = [];
    ch.on('data', (d: Buffer) => out.push(d.toString()));
    ch.stderr.on('data', (d: Buffer) => err.push(d.toString()));
    guest.send(
      creditFrame(ch.id, DATA_WINDOW),
      encodeFrame(ch.id, FRAME.data, Buffer.from('o')),
      encodeFrame(ch.id, FRAME.stderr, Buffer.from('e')),
      encodeFrame(ch.id, FRAME.eof),
    );
    expect(await ch.guestEnd).toBe('eof');
    await tick();
    expect([out, err]).toEqual([['o'], ['e']]);
    expect(mux.size).toBe(1);
    ch.end();
    await tick();
    expect(mux.size).toBe(0);
    // Late frames for it are dropped.
    guest.send(encodeFrame(ch.id, FRAME.data, Buffer.from('late')));
    await tick();
    expect(out).toEqual(['o']);
  });

  it("a guest's RESET ends the channel without a RESET back; destroy() sends one", async () => {
    const { mux, guest } = await pair();
    const a = mux.open();
    const b = mux.open();
    const c = mux.open();
    guest.send(encodeFrame(a.id, FRAME.reset), creditFrame(b.id, DATA_WINDOW));
    expect(await a.guestEnd).toBe('reset');
    b.destroy();
    // Given up before the guest opened it: the RESET goes once it does.
    c.destroy();
    await tick();
    expect(guest.typesOn(a.id)).not.toContain(FRAME.reset);
    expect(guest.typesOn(b.id)).toEqual([FRAME.reset]);
    expect(guest.typesOn(c.id)).toEqual([]);
    guest.send(creditFrame(c.id, DATA_WINDOW));
    await tick();
    expect(guest.typesOn(c.id)).toEqual([FRAME.reset]);
    expect(mux.size).toBe(0);
  });
});
