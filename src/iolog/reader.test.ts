import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LogEntry, readEntries } from './reader.js';
import { memoryWriter, T0 } from '../../test/support/iolog.js';

const dir = mkdtempSync(join(tmpdir(), 'iolog-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const b = (s: string) => Buffer.from(s, 'latin1');

/**
 * One entry made by hand with Node's own base64 (not the package's codec): the header is the
 * padded base64 of the int64 LE timestamp and the uint16 LE size << 4 | stream << 3.
 */
function entry(ts: bigint, stream: 0 | 1, msg: Buffer | string, size?: number): Buffer {
  const m = typeof msg === 'string' ? b(msg) : msg;
  const raw = Buffer.alloc(10);
  raw.writeBigInt64LE(ts, 0);
  raw.writeUInt16LE(((size ?? m.length) << 4) | (stream << 3), 8);
  const header = raw.toString('base64');
  expect(header).toMatch(/^[A-Za-z0-9+/]{14}==$/);
  return Buffer.concat([b(header), m]);
}

function save(log: Uint8Array): string {
  const path = join(dir, `log${n++}`);
  writeFileSync(path, log);
  return path;
}

/** The log one byte at a time, each byte a view into the log (not at offset 0 of its memory). */
async function* byteByByte(log: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < log.length; i++) {
    await null;
    yield log.subarray(i, i + 1);
  }
}

type Seen = [string, number, string];
const seen = (e: LogEntry): Seen => [
  e.timestamp.toString(),
  e.stream,
  e.message.toString('latin1'),
];

async function read(source: string | AsyncIterable<Uint8Array>): Promise<Seen[]> {
  const out: Seen[] = [];
  for await (const e of readEntries(source)) out.push(seen(e));
  return out;
}

/** Reads the log from a file and one byte at a time; both must give `want`. */
async function expectEntries(log: Buffer, want: Seen[]): Promise<void> {
  expect(await read(save(log))).toEqual(want);
  expect(await read(byteByByte(log))).toEqual(want);
}

const e1 = entry(T0 + 1n, 0, 'first line\n');
const e2 = entry(T0 + 2n, 1, 'an error\n');
const e3 = entry(T0 + 3n, 0, 'no newline');
const want123: Seen[] = [
  [(T0 + 1n).toString(), 0, 'first line\n'],
  [(T0 + 2n).toString(), 1, 'an error\n'],
  [(T0 + 3n).toString(), 0, 'no newline'],
];

describe('readEntries', () => {
  it('reads what the writer wrote, from a path and byte by byte', async () => {
    const { writer, done } = memoryWriter({}, 10n);
    writer.write(0, b('out one\nout two\n'));
    writer.write(1, b('err\n'));
    writer.write(0, Buffer.alloc(5000, 'L'));
    writer.write(0, b('\n'));
    writer.write(1, b('\x00\xff\n\n'));
    writer.write(0, b('unterminated'));
    const log = await done();
    const t = (i: number) => (T0 + 10n * BigInt(i)).toString();
    await expectEntries(log, [
      [t(1), 0, 'out one\n'],
      [t(2), 0, 'out two\n'],
      [t(3), 1, 'err\n'],
      [t(4), 0, 'L'.repeat(4095)],
      [t(5), 0, 'L'.repeat(905) + '\n'],
      [t(6), 1, '\x00\xff\n'],
      [t(7), 1, '\n'],
      [t(8), 0, 'unterminated'],
    ]);
  });

  it('reads entries made by hand, with the stream bit and any int64 timestamp', async () => {
    const times = [-(2n ** 63n), -1n, 0n, 1n, T0, 2n ** 63n - 1n];
    const log = Buffer.concat(times.map((t, i) => entry(t, (i % 2) as 0 | 1, `m${i}\n`)));
    await expectEntries(
      log,
      times.map((t, i) => [t.toString(), i % 2, `m${i}\n`]),
    );
  });

  it('reads entries of every size from 0 to 4095', async () => {
    const sizes = [0, 1, 2, 15, 16, 17, 255, 256, 4094, 4095];
    const log = Buffer.concat(sizes.map((s, i) => entry(BigInt(i), 0, Buffer.alloc(s, 0x41 + i))));
    await expectEntries(
      log,
      sizes.map((s, i) => [String(i), 0, String.fromCharCode(0x41 + i).repeat(s)]),
    );
  });

  it('yields nothing for an empty input', async () => {
    await expectEntries(Buffer.alloc(0), []);
  });

  it('skips junk at the start', async () => {
    for (const junk of [
      '\x00\xffgarbage!!',
      'x',
      'serial noise \r\n',
      'QUJDREVGR0hJSktMTU5PUFFSU1RV',
    ]) {
      await expectEntries(Buffer.concat([b(junk), e1, e2, e3]), want123);
    }
  });

  it('skips junk between entries', async () => {
    for (const junk of [
      '\r\n',
      '\x00',
      'serial noise, longer than a header ...',
      'not a header==', // the "==" of a header but not its 14 characters
      'AAAAAAAAAAAAAB==', // 16 header characters, but the last one has stray low bits
      '==',
      'AAAAAAAAAAAAA', // a header's beginning, 13 characters
    ]) {
      await expectEntries(Buffer.concat([e1, b(junk), e2, b(junk), e3]), want123);
    }
  });

  it('skips junk at the end, shorter or longer than a header', async () => {
    for (const junk of [
      '\n',
      'AAAAAAAAAAAAAA=',
      'tail',
      'trailing serial noise, and more of it\r\n',
    ]) {
      await expectEntries(Buffer.concat([e1, e2, e3, b(junk)]), want123);
    }
  });

  it('does not mistake header-shaped message bytes for an entry', async () => {
    const fake = entry(T0, 1, 'x').subarray(0, 16).toString('latin1');
    const log = Buffer.concat([entry(T0 + 1n, 0, `a ${fake} b\n`), entry(T0 + 2n, 0, fake), e2]);
    await expectEntries(log, [
      [(T0 + 1n).toString(), 0, `a ${fake} b\n`],
      [(T0 + 2n).toString(), 0, fake],
      [(T0 + 2n).toString(), 1, 'an error\n'],
    ]);
  });

  it('yields the bytes an entry cut short at the end has', async () => {
    const last = entry(T0 + 9n, 1, 'truncated line\n');
    for (const keep of [16 + 14, 16 + 1]) {
      await expectEntries(Buffer.concat([e1, last.subarray(0, keep)]), [
        want123[0],
        [(T0 + 9n).toString(), 1, 'truncated line\n'.slice(0, keep - 16)],
      ]);
    }
    // only the header left: an entry with an empty message
    await expectEntries(Buffer.concat([e1, last.subarray(0, 16)]), [
      want123[0],
      [(T0 + 9n).toString(), 1, ''],
    ]);
    // not even the whole header: junk
    await expectEntries(Buffer.concat([e1, last.subarray(0, 15)]), [want123[0]]);
  });

  it('yields a long entry cut short at the end of a file written by the writer', async () => {
    const { writer, done } = memoryWriter();
    writer.write(0, b('ok\n'));
    writer.write(0, Buffer.alloc(3000, 'z'));
    const log = await done();
    await expectEntries(log.subarray(0, log.length - 1000), [
      [(T0 + 1000n).toString(), 0, 'ok\n'],
      [(T0 + 2000n).toString(), 0, 'z'.repeat(2000)],
    ]);
  });

  it('hands out messages of their own, not views of the input chunks', async () => {
    const log = Buffer.concat([e1, e2, e3]);
    const chunks: Buffer[] = [];
    async function* copies() {
      for (let i = 0; i < log.length; i += 5) {
        const c = Buffer.from(log.subarray(i, i + 5));
        chunks.push(c);
        yield c;
      }
      yield log; // all of it once more, in one chunk
      chunks.push(log);
    }
    const got: LogEntry[] = [];
    for await (const e of readEntries(copies())) got.push(e);
    for (const c of chunks) c.fill(0x3d);
    expect(got.map(seen)).toEqual([...want123, ...want123]);
  });

  it('rejects a path that does not exist', async () => {
    await expect(read(join(dir, 'missing'))).rejects.toMatchObject({ kind: 'NotFound' });
  });
});
