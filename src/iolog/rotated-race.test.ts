// A rotation that lands inside a reader's directory listing (between reading the names and
// opening the files under them), made deterministic: readdir is wrapped so that the writer
// rotates right after it returns. Under load this is what a reader meets by chance.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { memoryWriter } from '../../test/support/iolog.js';
import { queryLog } from './query.js';

let afterReaddir: (() => void) | undefined;
let rotationsLeft = 0; // readdir calls that are each followed by a rotation hook (see below)
vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const readdir = async (...args: Parameters<typeof fsp.readdir>) => {
    const names = await fsp.readdir(...args);
    const hook = afterReaddir;
    if (--rotationsLeft <= 0) afterReaddir = undefined;
    hook?.();
    return names;
  };
  return { ...fsp, default: { ...fsp, readdir }, readdir };
});

const root = mkdtempSync(join(tmpdir(), 'iolog-rotated-race-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** File i of a log: lines 10i … 10i+9, one entry each. */
async function file(i: number): Promise<Buffer> {
  const { writer, done } = memoryWriter({}, 1000n);
  for (let l = 10 * i; l < 10 * i + 10; l++) writer.write(0, Buffer.from(`line ${l}\n`));
  return done();
}
const lines = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `line ${from + i}\n`).join('');

/** Rotates as the tether does (.K → .K+1 oldest first, output.log → .1) and writes a new log. */
function rotate(dir: string, next: Buffer): void {
  let k = 1;
  while (existsSync(join(dir, `output.log.${k}`))) k++;
  for (k--; k >= 1; k--) renameSync(join(dir, `output.log.${k}`), join(dir, `output.log.${k + 1}`));
  renameSync(join(dir, 'output.log'), join(dir, 'output.log.1'));
  writeFileSync(join(dir, 'output.log'), next);
}

function freshLog(first: Buffer): { dir: string; path: string } {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  const path = join(dir, 'output.log');
  writeFileSync(path, first);
  return { dir, path };
}

describe('a rotation during the listing of a log', () => {
  it('opening the log: the file rotated away from under a listed name is still read', async () => {
    const { dir, path } = freshLog(await file(0));
    const files = [await file(1)];
    afterReaddir = () => rotate(dir, files[0]);
    rotationsLeft = 1;
    let s = '';
    for await (const c of queryLog(path)) s += c.data.toString();
    expect(afterReaddir).toBeUndefined(); // the rotation did happen inside the listing
    expect(s).toBe(lines(0, 20));
  });

  it('a follower paused across several rotations reads every file once, in order', async () => {
    const { dir, path } = freshLog(await file(0));
    const files = await Promise.all([1, 2, 3, 4].map(file));
    let closed!: () => void;
    const writerClosed = new Promise<void>((r) => (closed = r));
    let got = '';
    const reading = (async () => {
      for await (const c of queryLog(path, { follow: true, writerClosed }))
        got += c.data.toString();
    })();
    await vi.waitFor(() => expect(got).toBe(lines(0, 10)));
    // The follower sees its file rotated and lists the directory; two more rotations land
    // between that listing's readdir and its opens.
    afterReaddir = () => {
      rotate(dir, files[1]);
      rotate(dir, files[2]);
    };
    rotationsLeft = 1;
    rotate(dir, files[0]);
    await vi.waitFor(() => expect(afterReaddir).toBeUndefined());
    rotate(dir, files[3]);
    closed(); // the writer is done: the follower reads what is left and ends

    await reading;
    expect(got).toBe(lines(0, 50));
  });

  it('a follower whose listings the writer keeps rotating under waits for one that settles', async () => {
    // Two rotations after every readdir, for more readdirs than a listing attempts: the listing
    // gives up with files opened under names two rotations old, which leave out the oldest
    // files (ours and the one after it). Taking those in would lose that one; the follower
    // lists again instead, once the writer lets a listing settle.
    const { dir, path } = freshLog(await file(0));
    const count = 110;
    const files = await Promise.all(Array.from({ length: count - 1 }, (_, i) => file(i + 1)));
    let closed!: () => void;
    const writerClosed = new Promise<void>((r) => (closed = r));
    let got = '';
    const reading = (async () => {
      for await (const c of queryLog(path, { follow: true, writerClosed }))
        got += c.data.toString();
    })();
    await vi.waitFor(() => expect(got).toBe(lines(0, 10)));
    let next = 1;
    afterReaddir = () => {
      rotate(dir, files[next++ - 1]);
      rotate(dir, files[next++ - 1]);
    };
    rotationsLeft = 50;
    rotate(dir, files[next++ - 1]);
    await vi.waitFor(() => expect(afterReaddir).toBeUndefined(), { timeout: 10_000 });
    while (next < count) rotate(dir, files[next++ - 1]);
    closed();
    await reading;
    expect(got).toBe(lines(0, 10 * count));
  });
});
