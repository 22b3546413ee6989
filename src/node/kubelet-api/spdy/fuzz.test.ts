// Fuzzing the parser and the session with random and mutated bytes: whatever arrives, the
// parser answers frames or a SpdyProtocolError, and the session either goes on or closes with
// GOAWAY; nothing throws out, nothing hangs. Seeded, and bounded to run in a few seconds.
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { encodeFrame, type Frame, FrameParser, SpdyProtocolError } from './frames.js';
import { HeaderCompressor } from './header-block.js';
import { SpdySession } from './session.js';

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function validWire(): Promise<Buffer> {
  const c = new HeaderCompressor();
  const frames: Frame[] = [];
  for (let id = 1; id < 12; id += 2) {
    frames.push({
      type: 'syn_stream',
      streamId: id,
      associatedId: 0,
      priority: 0,
      slot: 0,
      fin: false,
      unidirectional: false,
      headerBlock: await c.compress({ streamtype: ['stdout'], n: [String(id)] }),
    });
    frames.push({ type: 'data', streamId: id, fin: id % 3 === 0, data: Buffer.from('abc') });
  }
  frames.push({ type: 'ping', id: 1 }, { type: 'window_update', streamId: 1, delta: 5 });
  frames.push({ type: 'settings', clear: false, entries: [{ flags: 0, id: 4, value: 9 }] });
  frames.push({ type: 'rst_stream', streamId: 1, status: 5 });
  frames.push({ type: 'goaway', lastGoodStreamId: 0, status: 0 });
  c.close();
  return Buffer.concat(frames.map(encodeFrame));
}

function mutate(wire: Buffer, r: () => number): Buffer {
  const b = Buffer.from(wire);
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * b.length);
    const op = r();
    if (op < 0.6) b[at] = Math.floor(r() * 256);
    else if (op < 0.8) b[at] ^= 1 << Math.floor(r() * 8);
    else return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(r() * 16))]);
  }
  return b;
}

function chunks(b: Buffer, r: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < b.length;) {
    const n = 1 + Math.floor(r() * 64);
    out.push(b.subarray(off, off + n));
    off += n;
  }
  return out;
}

describe('SPDY fuzz', () => {
  it('the parser answers frames or a SpdyProtocolError for any bytes', async () => {
    const r = rng(0x5bd1e995);
    const wire = await validWire();
    let frames = 0;
    let refused = 0;
    for (let i = 0; i < 4000; i++) {
      const input =
        i % 4 === 0
          ? Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)))
          : mutate(wire, r);
      const p = new FrameParser({ maxFrameLength: 1 << 16 });
      try {
        for (const c of chunks(input, r)) frames += p.push(c).length;
      } catch (err) {
        expect(err).toBeInstanceOf(SpdyProtocolError);
        refused++;
      }
    }
    // Both outcomes happen: the mutations are neither all harmless nor all fatal.
    expect(frames).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(100);
  });

  it('the session survives or closes with GOAWAY, never throws', async () => {
    const r = rng(42);
    const wire = await validWire();
    let closed = 0;
    for (let i = 0; i < 300; i++) {
      const written: Buffer[] = [];
      const socket = new Duplex({
        read() {},
        write(c: Buffer, _e, cb) {
          written.push(c);
          cb();
        },
      });
      const s = new SpdySession(socket, { server: true, maxHeaderBytes: 4096 });
      let closeErr: Error | undefined;
      let didClose = false;
      s.on('close', (e) => ((didClose = true), (closeErr = e)));
      s.on('stream', (st) => {
        st.on('error', () => undefined);
        void st.reply().catch(() => undefined);
        st.resume();
      });
      for (const c of chunks(mutate(wire, r), r)) socket.push(c);
      // Let the session's queues run.
      await new Promise((res) => setTimeout(res, 2));
      if (didClose && closeErr) {
        closed++;
        const out = new FrameParser().push(Buffer.concat(written));
        expect(out.some((f) => f.type === 'goaway')).toBe(true);
      }
      socket.destroy();
    }
    expect(closed).toBeGreaterThan(10);
  });
});
