import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LogWriter } from './writer.js';
import { steppingClock } from './clock.js';
import { decodeAll, memoryWriter, T0 } from '../../test/support/iolog.js';

const b = (s: string) => Buffer.from(s);
const view = (log: Buffer) => decodeAll(log).map((e) => [e.stream, e.message.toString()]);

describe('LogWriter', () => {
  it('splits after each newline and keeps each stream’s partial line apart', async () => {
    const { writer, done } = memoryWriter();
    writer.write(0, b('out one\nout '));
    writer.write(1, b('err one\n'));
    writer.write(0, b('two\n'));
    writer.write(1, b('err tail'));
    expect(view(await done())).toEqual([
      [0, 'out one\n'],
      [1, 'err one\n'],
      [0, 'out two\n'],
      [1, 'err tail'],
    ]);
  });

  it('sets the stream bit that VIC never set', async () => {
    const { writer, done } = memoryWriter();
    writer.write(1, b('x\n'));
    const log = await done();
    // header bytes 8..9 = size<<4 | stream<<3 = 0x0028: characters 11.. are "oAA=="
    expect(log.subarray(11, 16).toString()).toBe('oAA==');
    expect(decodeAll(log)[0].stream).toBe(1);
  });

  it('reads the clock once per entry, in order', async () => {
    const { writer, done } = memoryWriter({}, 7n);
    writer.write(0, b('a\nb\nc'));
    const ts = decodeAll(await done()).map((e) => e.ts - T0);
    expect(ts).toEqual([7n, 14n, 21n]);
  });

  it('cuts long lines into 4095-byte entries, and exact multiples too', async () => {
    const { writer, done } = memoryWriter();
    writer.write(0, Buffer.alloc(4095, 'a'));
    writer.write(0, b('\n'));
    writer.write(0, Buffer.alloc(8190, 'b'));
    writer.write(0, Buffer.alloc(10, 'c'));
    const sizes = decodeAll(await done()).map((e) => e.message.length);
    expect(sizes).toEqual([4095, 1, 4095, 4095, 10]);
  });

  it('writes nothing for empty writes and an empty close', async () => {
    const { writer, done } = memoryWriter();
    writer.write(0, b(''));
    expect((await done()).length).toBe(0);
  });

  it('holds the other stream back while a long line is open', async () => {
    const { writer, done } = memoryWriter();
    writer.write(0, Buffer.alloc(5000, 'a')); // 4095 written, 905 pending: the line is open
    writer.write(1, b('err\n'));
    writer.write(0, b('end\n'));
    const got = decodeAll(await done()).map((e) => [e.stream, e.message.length]);
    expect(got).toEqual([
      [0, 4095],
      [0, 909],
      [1, 4],
    ]);
  });

  it('stops holding after holdMs and cuts the long line instead', async () => {
    const { writer, done } = memoryWriter({ holdMs: 10 });
    writer.write(0, Buffer.alloc(5000, 'a'));
    writer.write(1, b('err\n'));
    await new Promise((r) => setTimeout(r, 40));
    writer.write(0, b('end\n'));
    const got = decodeAll(await done()).map((e) => [e.stream, e.message.length]);
    expect(got).toEqual([
      [0, 4095],
      [1, 4],
      [0, 909],
    ]);
  });

  it('stops holding after holdBytes', async () => {
    const { writer, done } = memoryWriter({ holdBytes: 8 });
    writer.write(0, Buffer.alloc(5000, 'a'));
    writer.write(1, b('0123456789\n'));
    const got = decodeAll(await done()).map((e) => [e.stream, e.message.length]);
    expect(got).toEqual([
      [0, 4095],
      [1, 11],
      [0, 905],
    ]);
  });

  it('finishes the open line before the held stream on close', async () => {
    const { writer, done } = memoryWriter();
    writer.write(1, Buffer.alloc(4100, 'e'));
    writer.write(0, b('out\n'));
    const got = decodeAll(await done()).map((e) => [e.stream, e.message.length]);
    expect(got).toEqual([
      [1, 4095],
      [1, 5],
      [0, 4],
    ]);
  });

  it('honours backpressure: write returns false until the sink drains', async () => {
    const written: Buffer[] = [];
    const sink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _e, cb) {
        written.push(Buffer.from(chunk));
        setTimeout(cb, 5); // a slow disk
      },
    });
    const w = new LogWriter(sink, { clock: steppingClock(T0, 1n), batchBytes: 1 });
    expect(w.write(0, b('first\n'))).toBe(true); // batched, not yet sent
    w.flush(); // the sink now holds it and is full
    expect(w.write(0, Buffer.alloc(20000, 'x'))).toBe(false);
    let drained = false;
    w.once('drain', () => (drained = true));
    await w.close();
    expect(drained).toBe(true);
    expect(decodeAll(Buffer.concat(written)).reduce((n, e) => n + e.message.length, 0)).toBe(20006);
  });

  it('batches: many lines reach the sink in few writes', async () => {
    let writes = 0;
    const sink = new Writable({
      write(_c, _e, cb) {
        writes++;
        cb();
      },
    });
    const w = new LogWriter(sink, { clock: steppingClock(T0, 1n) });
    for (let i = 0; i < 1000; i++) w.write(0, b(`line ${i}\n`));
    await w.close();
    expect(writes).toBe(1);
  });

  it('refuses writes after close and reports sink errors', async () => {
    const sink = new Writable({
      write(_c, _e, cb) {
        cb(new Error('disk full'));
      },
    });
    sink.on('error', () => {});
    const w = new LogWriter(sink, { clock: steppingClock(T0, 1n) });
    w.on('error', () => {});
    w.write(0, b('x\n'));
    await expect(w.close()).rejects.toThrow('disk full');
    expect(() => w.write(0, b('y'))).toThrow(/after close/);
  });

  it('exposes each stream as a Writable for pipes', async () => {
    const { writer, done } = memoryWriter();
    await new Promise<void>((resolve) => writer.stdout.write(b('via pipe\n'), () => resolve()));
    await new Promise<void>((resolve) => writer.stderr.write(b('err pipe\n'), () => resolve()));
    expect(view(await done())).toEqual([
      [0, 'via pipe\n'],
      [1, 'err pipe\n'],
    ]);
  });
});
