// A log with its rotated files reads as one log: all, tail, since and follow across files and
// across a rotation that happens while a follower reads.
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAll, memoryWriter, T0 } from '../../test/support/iolog.js';
import { type LogQuery, queryLog } from './query.js';
import { RotatedLog, rotationNames } from './rotated.js';

const root = mkdtempSync(join(tmpdir(), 'iolog-rotated-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** `count` numbered lines ("line 0\n"…), one entry each, 1000 ns apart. */
async function logOf(count: number, from = 0): Promise<Buffer> {
  const { writer, done } = memoryWriter({}, 1000n);
  for (let i = from; i < from + count; i++) writer.write(0, Buffer.from(`line ${i}\n`));
  return done();
}

/** Cuts a log at entry boundaries into files of at most `max` bytes, as the tether rotates. */
function cut(log: Buffer, max: number): Buffer[] {
  const files: Buffer[] = [];
  let start = 0;
  let end = 0;
  for (const e of decodeAll(log)) {
    const next = e.offset + 16 + e.message.length;
    if (next - start > max) {
      files.push(log.subarray(start, end));
      start = end;
    }
    end = next;
  }
  files.push(log.subarray(start, end));
  return files;
}

/** Writes the files as output.log.N … output.log.1, output.log in a fresh directory. */
function lay(files: Buffer[]): string {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  files.forEach((f, i) => {
    const k = files.length - 1 - i;
    writeFileSync(join(dir, k === 0 ? 'output.log' : `output.log.${k}`), f);
  });
  return join(dir, 'output.log');
}

async function text(path: string, q: LogQuery = {}): Promise<string> {
  let s = '';
  for await (const c of queryLog(path, q)) s += c.data.toString();
  return s;
}
const lines = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `line ${from + i}\n`).join('');

describe('rotationNames', () => {
  it('orders a log after its rotated files, oldest first, and ignores other names', () => {
    const names = [
      'output.log.2',
      'x',
      'output.log',
      'output.log.10',
      'output.log.1',
      '.output.log.next',
    ];
    expect(
      rotationNames([...names, 'output.log.0', 'output.log.1a', 'output.logs'], 'output.log'),
    ).toEqual(['output.log.10', 'output.log.2', 'output.log.1', 'output.log']);
  });
});

describe('queryLog over rotated files', () => {
  it('reads all files as one log, in order; tail and since cross file boundaries', async () => {
    const files = cut(await logOf(3000), 4096);
    expect(files.length).toBeGreaterThan(10);
    const path = lay(files);
    expect(await text(path)).toBe(lines(0, 3000));
    expect(await text(path, { tail: 10 })).toBe(lines(2990, 3000));
    // The tail reaching back over several files.
    expect(await text(path, { tail: 1500 })).toBe(lines(1500, 3000));
    // Entry i is stamped T0 + (i + 1) * 1000 by the stepping clock.
    expect(await text(path, { since: T0 + 1001n * 1000n })).toBe(lines(1000, 3000));
    expect(await text(path, { since: T0 + 1000n * 1000n + 1n, tail: 5 })).toBe(lines(2995, 3000));
  });

  it('reads a log without rotated files as before, and says when there is none', async () => {
    const path = lay([await logOf(5)]);
    expect(await text(path)).toBe(lines(0, 5));
    await expect(text(join(root, 'nowhere', 'output.log'))).rejects.toThrow(/does not exist/);
  });

  it('reads the rotated files when output.log is momentarily missing (mid-rotation)', async () => {
    const files = cut(await logOf(100), 1024);
    const path = lay(files);
    rmSync(path); // renamed to .1, its successor not yet in place
    const newest = decodeAll(files[files.length - 1]).length;
    expect(await text(path)).toBe(lines(0, 100 - newest));
  });

  it('follows across rotations: no line lost or read twice', async () => {
    const all = await logOf(2000);
    const files = cut(all, 2048);
    const dir = join(root, `d${n++}`);
    mkdirSync(dir);
    const path = join(dir, 'output.log');
    writeFileSync(path, files[0]);
    let closed!: () => void;
    const writerClosed = new Promise<void>((r) => (closed = r));
    const got: string[] = [];
    const reading = (async () => {
      for await (const c of queryLog(path, { follow: true, writerClosed }))
        got.push(c.data.toString());
    })();
    // Rotate as the tether does (no file deleted here: a follower that lags behind under load
    // must still find every file): .K → .K+1, output.log → .1, then a new output.log; each
    // file is written in two halves around waits, so the follower meets rotations mid-file and
    // at ends.
    for (let i = 1; i < files.length; i++) {
      await new Promise((r) => setTimeout(r, 5));
      for (let k = i - 1; k >= 1; k--)
        renameSync(join(dir, `output.log.${k}`), join(dir, `output.log.${k + 1}`));
      renameSync(path, join(dir, 'output.log.1'));
      await new Promise((r) => setTimeout(r, 2));
      const f = files[i];
      const half = decodeAll(f).find((e) => e.offset >= f.length / 2)?.offset ?? f.length;
      writeFileSync(path, f.subarray(0, half));
      await new Promise((r) => setTimeout(r, 3));
      appendFileSync(path, f.subarray(half));
    }
    await new Promise((r) => setTimeout(r, 50));
    closed();
    await reading;
    expect(got.join('')).toBe(lines(0, 2000));
  });

  it('a RotatedLog releases files wholly behind the reader, and measures the newest again', async () => {
    const files = cut(await logOf(200), 1024);
    const path = lay(files);
    const log = await RotatedLog.open(path);
    expect(log.files).toBe(files.length);
    const total = files.reduce((s, f) => s + f.length, 0);
    expect(log.size).toBe(total);
    appendFileSync(path, await logOf(1, 200));
    expect(await log.refresh(files[0].length)).toBe(total + (await logOf(1, 200)).length);
    // The first file is released: reads of it return nothing; the rest still read.
    const buf = Buffer.alloc(16);
    expect(log.readSync(buf, 0, 16, 0)).toBe(0);
    expect(log.readSync(buf, 0, 16, files[0].length)).toBe(16);
    await log.close();
  });
});

describe('a log directory the container side could write', () => {
  it('refuses a rotated file that is a symbolic link or a FIFO, at once and with one message', async () => {
    const files = cut(await logOf(100), 512);
    const outside = join(root, `outside-${n}`);
    writeFileSync(outside, 'host secret\n');
    const linked = lay(files);
    rmSync(`${linked}.1`);
    symlinkSync(outside, `${linked}.1`);
    await expect(text(linked)).rejects.toThrow(
      /output\.log\.1 is a symbolic link, which is not followed/,
    );
    const piped = lay(files);
    rmSync(`${piped}.2`);
    execFileSync('mkfifo', [`${piped}.2`]);
    // A FIFO would block an open for reading until a writer came: refused without waiting.
    await expect(text(piped)).rejects.toThrow(/output\.log\.2 is not a regular file/);
  });
});
