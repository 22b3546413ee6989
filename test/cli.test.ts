// The built CLI, run as a user runs it: `node dist/cli/main.js iolog encode|decode …`.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/iolog/clock.js';
import { formatTime } from '../src/iolog/time.js';
import { decodeAll, memoryWriter, T0 } from './support/iolog.js';
import type { Clock } from '../src/iolog/clock.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = join(root, 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'vic-kubelet-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const next = (name = 'log') => join(dir, `${name}${n++}.log`);

beforeAll(() => {
  if (!existsSync(main)) {
    const r = spawnSync('npx', ['tsc', '-p', '.'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
  }
}, 120_000);

function cli(args: string[], input?: string | Buffer): SpawnSyncReturns<Buffer> {
  const r = spawnSync(process.execPath, [main, ...args], {
    cwd: dir,
    input: input ?? '',
    timeout: 20_000,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw r.error;
  return r;
}

const text = (r: SpawnSyncReturns<Buffer>) => ({
  status: r.status,
  out: r.stdout.toString('latin1'),
  err: r.stderr.toString('latin1'),
});

/** A log file of [stream, text] writes, one entry each, at T0 + 1000 ns, + 2000 ns, … */
async function logFile(lines: [0 | 1, string][], clock?: Clock): Promise<string> {
  const { writer, done } = memoryWriter(clock ? { clock } : {});
  for (const [s, t] of lines) writer.write(s, Buffer.from(t, 'latin1'));
  const path = next();
  writeFileSync(path, await done());
  return path;
}
const tsOf = (i: number) => T0 + 1000n * BigInt(i + 1);

const three: [0 | 1, string][] = [
  [0, 'out1\n'],
  [1, 'err1\n'],
  [0, 'out2\n'],
];

describe('vic-kubelet iolog encode', () => {
  it('appends stdin to FILE as stdout entries stamped with the system clock', () => {
    const path = next();
    const before = systemClock();
    const r = text(cli(['iolog', 'encode', path], 'a\nb\n'));
    const after = systemClock();
    expect(r).toEqual({ status: 0, out: '', err: '' });
    const entries = decodeAll(readFileSync(path));
    expect(entries.map((e) => [e.stream, e.message.toString()])).toEqual([
      [0, 'a\n'],
      [0, 'b\n'],
    ]);
    for (const e of entries) {
      // another process's clock: allow for the two processes' clocks to differ by a little
      expect(e.ts).toBeGreaterThanOrEqual(before - 1_000_000_000n);
      expect(e.ts).toBeLessThanOrEqual(after + 1_000_000_000n);
    }
    expect(cli(['iolog', 'encode', path], 'c').status).toBe(0);
    expect(decodeAll(readFileSync(path)).map((e) => e.message.toString())).toEqual([
      'a\n',
      'b\n',
      'c',
    ]);
  });

  it('tags the entries with --stream stderr', () => {
    const path = next();
    expect(cli(['iolog', 'encode', '--stream', 'stderr', path], 'oops\n').status).toBe(0);
    expect(decodeAll(readFileSync(path)).map((e) => [e.stream, e.message.toString()])).toEqual([
      [1, 'oops\n'],
    ]);
  });

  it('writes the log to stdout when there is no FILE', () => {
    const r = cli(['iolog', 'encode'], 'x\ny');
    expect(r.status).toBe(0);
    expect(r.stderr.length).toBe(0);
    expect(decodeAll(r.stdout).map((e) => [e.stream, e.message.toString()])).toEqual([
      [0, 'x\n'],
      [0, 'y'],
    ]);
  });

  it('writes nothing for empty input', () => {
    const path = next();
    expect(cli(['iolog', 'encode', path], '').status).toBe(0);
    expect(readFileSync(path).length).toBe(0);
  });

  it('encodes megabytes of arbitrary bytes that decode gives back unchanged', () => {
    // More than the CLI's 1 MiB stdin blocks, with lines long and short and binary bytes.
    const parts: Buffer[] = [];
    let seed = 1;
    const rnd = (m: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % m;
    let size = 0;
    while (size < 3_500_000) {
      const len = rnd(4) === 0 ? rnd(20_000) : rnd(200);
      const line = Buffer.alloc(len + 1);
      for (let i = 0; i < len; i++) line[i] = rnd(256);
      line[len] = 0x0a;
      parts.push(line);
      size += line.length;
    }
    const input = Buffer.concat(parts);
    const path = next();
    expect(cli(['iolog', 'encode', path], input).status).toBe(0);
    const entries = decodeAll(readFileSync(path));
    expect(entries.every((e) => e.message.length <= 4095)).toBe(true);
    expect(Buffer.concat(entries.map((e) => e.message)).equals(input)).toBe(true);
    const r = cli(['iolog', 'decode', path]);
    expect(r.status).toBe(0);
    expect(r.stderr.length).toBe(0);
    expect(r.stdout.equals(input)).toBe(true);
  });
});

describe('vic-kubelet iolog, big files (the parallel paths)', () => {
  // Above 16 MiB, encode (from a regular file on stdin) and decode use worker threads.
  let input: Buffer;
  let inputPath: string;
  let logPath: string;
  let encoded: SpawnSyncReturns<Buffer>;

  beforeAll(() => {
    const parts: Buffer[] = [];
    let seed = 7;
    const rnd = (m: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % m;
    // A whole entry (header "BQAAAAAAAABQAA==": time 5 ns, 5 bytes) as the end of a line of
    // 4095 bytes: in the log, a confirmed entry inside a message, for a worker to start on.
    const inner = Buffer.from('BQAAAAAAAABQAA==fake\n');
    let size = 0;
    while (size < 18 << 20) {
      const kind = rnd(40);
      let line: Buffer;
      if (kind === 0)
        line = Buffer.concat([
          Buffer.alloc(4095 * (1 + rnd(3)) + rnd(3) - 1, 0x61 + rnd(26)),
          Buffer.from('\n'),
        ]);
      else if (kind === 1) line = Buffer.concat([Buffer.alloc(4095 - inner.length, 'q'), inner]);
      else if (kind === 2) line = Buffer.from([0, 0xff, 0x3d, 0x3d, 0x0a, 0x0a]);
      else if (kind === 3) line = Buffer.from('AAAAAAAAAAAAAA==\n');
      else line = Buffer.from(`${size} ${'x'.repeat(rnd(300))}\n`);
      parts.push(line);
      size += line.length;
    }
    input = Buffer.concat(parts);
    inputPath = next('input');
    writeFileSync(inputPath, input);
    logPath = next();
    encoded = fromFile(['iolog', 'encode', logPath], inputPath);
  }, 120_000);

  function fromFile(args: string[], path: string): SpawnSyncReturns<Buffer> {
    const fd = openSync(path, 'r');
    try {
      const r = spawnSync(process.execPath, [main, ...args], {
        cwd: dir,
        stdio: [fd, 'pipe', 'pipe'],
        timeout: 60_000,
        maxBuffer: 64 << 20,
      });
      if (r.error) throw r.error;
      return r;
    } finally {
      closeSync(fd);
    }
  }

  it('encodes a big file on stdin into the entries one writer would make', () => {
    const r = encoded;
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    const entries = decodeAll(readFileSync(logPath));
    expect(Buffer.concat(entries.map((e) => e.message)).equals(input)).toBe(true);
    entries.forEach((e, i) => {
      if (e.stream !== 0 || e.message.length > 4095 || e.message.length === 0)
        throw new Error(`entry ${i}: stream ${e.stream}, ${e.message.length} bytes`);
      const whole = e.message.length === 4095 || e.message[e.message.length - 1] === 0x0a;
      if (!whole && i < entries.length - 1) throw new Error(`entry ${i} is cut mid-line`);
      if (i > 0 && e.ts < entries[i - 1].ts) throw new Error(`entry ${i} goes back in time`);
    });
    // The same entries as from a pipe (a single writer), but for the timestamps.
    const piped = decodeAll(cli(['iolog', 'encode'], input).stdout);
    expect(piped.map((e) => e.message.length)).toEqual(entries.map((e) => e.message.length));
  }, 120_000);

  it('decodes a big log back to the bytes that went in', () => {
    const r = cli(['iolog', 'decode', logPath]);
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBe(input.length);
    expect(r.stdout.equals(input)).toBe(true);
    const err = cli(['iolog', 'decode', '--stream', 'stderr', logPath]);
    expect([err.status, err.stdout.length, err.stderr.length]).toEqual([0, 0, 0]);
  }, 120_000);

  it('encodes a big file on stdin to stdout, and as stderr entries', () => {
    const r = fromFile(['iolog', 'encode', '--stream', 'stderr'], inputPath);
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    const entries = decodeAll(r.stdout);
    expect(entries.every((e) => e.stream === 1)).toBe(true);
    expect(Buffer.concat(entries.map((e) => e.message)).equals(input)).toBe(true);
  }, 120_000);

  it('decodes --tail and --since of a big log as the logical lines say', () => {
    const entries = decodeAll(readFileSync(logPath));
    const lines: { ts: bigint; parts: Buffer[] }[] = [];
    let continues = false;
    for (const e of entries) {
      if (continues) lines[lines.length - 1].parts.push(e.message);
      else lines.push({ ts: e.ts, parts: [e.message] });
      continues = e.message.length === 4095 && e.message[4094] !== 0x0a;
    }
    const from = (i: number) => Buffer.concat(lines.slice(i).flatMap((l) => l.parts));
    const i = Math.floor(lines.length / 20); // leaves more than 16 MiB: the parallel path
    const tail = cli(['iolog', 'decode', '--tail', String(lines.length - i), logPath]);
    expect(tail.status).toBe(0);
    expect(tail.stdout.equals(from(i))).toBe(true);
    const since = lines[i].ts;
    const first = lines.findIndex((l) => l.ts >= since);
    const r = cli(['iolog', 'decode', '--since', formatTime(since), logPath]);
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBe(from(first).length);
    expect(r.stdout.equals(from(first))).toBe(true);
  }, 120_000);

  it('decodes a big log with junk between its entries', () => {
    const log = readFileSync(logPath);
    const offsets = decodeAll(log).map((e) => e.offset);
    const parts: Buffer[] = [];
    let prev = 0;
    for (let i = 1; i < offsets.length; i += 997) {
      parts.push(log.subarray(prev, offsets[i]), Buffer.from('serial junk\x00\xff\r\n'));
      prev = offsets[i];
    }
    parts.push(log.subarray(prev));
    const path = next('junk');
    writeFileSync(path, Buffer.concat(parts));
    const r = cli(['iolog', 'decode', path]);
    expect(r.status).toBe(0);
    expect(r.stdout.equals(input)).toBe(true);
  }, 120_000);
});

describe('vic-kubelet iolog decode', () => {
  it('writes stdout lines to stdout and stderr lines to stderr', async () => {
    const path = await logFile(three);
    expect(text(cli(['iolog', 'decode', path]))).toEqual({
      status: 0,
      out: 'out1\nout2\n',
      err: 'err1\n',
    });
  });

  it('--tail N counts the lines of both streams', async () => {
    const path = await logFile(three);
    expect(text(cli(['iolog', 'decode', '--tail', '1', path]))).toEqual({
      status: 0,
      out: 'out2\n',
      err: '',
    });
    expect(text(cli(['iolog', 'decode', '--tail', '2', path]))).toEqual({
      status: 0,
      out: 'out2\n',
      err: 'err1\n',
    });
    expect(text(cli(['iolog', 'decode', '--tail', '0', path]))).toEqual({
      status: 0,
      out: '',
      err: '',
    });
    expect(text(cli(['iolog', 'decode', '--tail', 'all', path])).out).toBe('out1\nout2\n');
    expect(text(cli(['iolog', 'decode', '--tail', '99', path])).out).toBe('out1\nout2\n');
  });

  it('--since takes an RFC 3339 time, inclusive to the nanosecond', async () => {
    const path = await logFile(three);
    const at = (t: bigint) => text(cli(['iolog', 'decode', '--since', formatTime(t), path]));
    expect(formatTime(tsOf(1))).toBe('2023-11-14T22:13:20.000002000Z');
    expect(at(tsOf(1))).toEqual({ status: 0, out: 'out2\n', err: 'err1\n' });
    expect(at(tsOf(1) + 1n)).toEqual({ status: 0, out: 'out2\n', err: '' });
    expect(at(tsOf(2) + 1n)).toEqual({ status: 0, out: '', err: '' });
    // the same instant with an offset
    const r = text(cli(['iolog', 'decode', '--since', '2023-11-15T05:13:20.000002+07:00', path]));
    expect(r).toEqual({ status: 0, out: 'out2\n', err: 'err1\n' });
  });

  it('--since takes a duration before now', async () => {
    const now = systemClock();
    const times = [
      now - 7200n * 1_000_000_000n,
      now - 7199n * 1_000_000_000n,
      now - 5_000_000_000n,
    ];
    let i = 0;
    const path = await logFile(three, () => times[i++]);
    expect(text(cli(['iolog', 'decode', '--since', '1h', path]))).toEqual({
      status: 0,
      out: 'out2\n',
      err: '',
    });
    expect(text(cli(['iolog', 'decode', '--since', '3h', path]))).toEqual({
      status: 0,
      out: 'out1\nout2\n',
      err: 'err1\n',
    });
    expect(text(cli(['iolog', 'decode', '--since', '1s', path]))).toEqual({
      status: 0,
      out: '',
      err: '',
    });
  });

  it('--until stops after the last line at or before it', async () => {
    const path = await logFile(three);
    expect(text(cli(['iolog', 'decode', '--until', formatTime(tsOf(1)), path]))).toEqual({
      status: 0,
      out: 'out1\n',
      err: 'err1\n',
    });
  });

  it('--timestamps prefixes each line with its time', async () => {
    const path = await logFile([...three, [1, 'x'.repeat(5000) + '\n']]);
    const r = text(cli(['iolog', 'decode', '--timestamps', path]));
    expect(r.status).toBe(0);
    expect(r.out).toBe(`${formatTime(tsOf(0))} out1\n${formatTime(tsOf(2))} out2\n`);
    expect(r.err).toBe(`${formatTime(tsOf(1))} err1\n${formatTime(tsOf(3))} ${'x'.repeat(5000)}\n`);
    expect(text(cli(['iolog', 'decode', '-t', '--tail', '1', '--stream', 'stdout', path]))).toEqual(
      { status: 0, out: '', err: '' },
    );
  });

  it('--limit-bytes stops after that many bytes of output', async () => {
    const path = await logFile(three);
    expect(text(cli(['iolog', 'decode', '--limit-bytes', '7', path]))).toEqual({
      status: 0,
      out: 'out1\n',
      err: 'er',
    });
    expect(text(cli(['iolog', 'decode', '--limit-bytes', '1', path]))).toEqual({
      status: 0,
      out: 'o',
      err: '',
    });
    const r = text(cli(['iolog', 'decode', '--limit-bytes', '10', '--timestamps', path]));
    expect(r).toEqual({ status: 0, out: formatTime(tsOf(0)).slice(0, 10), err: '' });
  });

  it('--stream shows one stream', async () => {
    const path = await logFile(three);
    expect(text(cli(['iolog', 'decode', '--stream', 'stderr', path]))).toEqual({
      status: 0,
      out: '',
      err: 'err1\n',
    });
    expect(text(cli(['iolog', 'decode', '--stream', 'stdout', path]))).toEqual({
      status: 0,
      out: 'out1\nout2\n',
      err: '',
    });
    expect(text(cli(['iolog', 'decode', '--stream', 'all', path])).err).toBe('err1\n');
  });

  it('--follow prints appended lines and ends with status 0 on SIGTERM', async () => {
    const path = await logFile(three);
    const child = spawn(process.execPath, [main, 'iolog', 'decode', '--follow', path], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const waiters: (() => void)[] = [];
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      waiters.forEach((w) => w());
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      waiters.forEach((w) => w());
    });
    let status: [number | null, NodeJS.Signals | null] | undefined;
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (code, signal) => {
        resolve((status = [code, signal]));
        waiters.forEach((w) => w());
      }),
    );
    const until = (cond: () => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        const fail = (why: string) => {
          clearTimeout(timer);
          reject(
            new Error(
              `${why} waiting for ${what}: out=${JSON.stringify(out)} err=${JSON.stringify(err)}`,
            ),
          );
        };
        const timer = setTimeout(() => fail('timed out'), 10_000);
        const check = () => {
          if (cond()) {
            clearTimeout(timer);
            resolve();
          } else if (status) {
            fail(`decode --follow exited by itself (code ${status[0]}, signal ${status[1]})`);
          }
        };
        waiters.push(check);
        check();
      });
    try {
      await until(() => out === 'out1\nout2\n' && err === 'err1\n', 'the first lines');
      expect(cli(['iolog', 'encode', path], 'appended\n').status).toBe(0);
      await until(() => out.endsWith('appended\n'), 'the appended line');
      expect(cli(['iolog', 'encode', '--stream', 'stderr', path], 'late error\n').status).toBe(0);
      await until(() => err.endsWith('late error\n'), 'the appended error');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toEqual([0, null]);
    expect(out).toBe('out1\nout2\nappended\n');
    expect(err).toBe('err1\nlate error\n');
  });
});

describe('vic-kubelet bad input', () => {
  const cases: [string, () => Promise<string[]> | string[]][] = [
    ['a missing file', () => ['iolog', 'decode', join(dir, 'no-such-file.log')]],
    ['a directory', () => ['iolog', 'decode', dir]],
    [
      'a bad --since',
      async () => ['iolog', 'decode', '--since', 'yesterday', await logFile(three)],
    ],
    [
      'a bad --until',
      async () => ['iolog', 'decode', '--until', '2023-02-30', await logFile(three)],
    ],
    ['--tail -1', async () => ['iolog', 'decode', '--tail', '-1', await logFile(three)]],
    ['--tail abc', async () => ['iolog', 'decode', '--tail', 'abc', await logFile(three)]],
    ['--tail 1.5', async () => ['iolog', 'decode', '--tail', '1.5', await logFile(three)]],
    [
      '--limit-bytes 0',
      async () => ['iolog', 'decode', '--limit-bytes', '0', await logFile(three)],
    ],
    [
      '--limit-bytes x',
      async () => ['iolog', 'decode', '--limit-bytes', 'x', await logFile(three)],
    ],
    ['--stream both', async () => ['iolog', 'decode', '--stream', 'both', await logFile(three)]],
    ['an unknown flag', async () => ['iolog', 'decode', '--bogus', await logFile(three)]],
    ['a missing argument', () => ['iolog', 'decode']],
    ['a flag without its value', async () => ['iolog', 'decode', await logFile(three), '--since']],
    ['an unknown command', () => ['iolog', 'frobnicate']],
    ['encode into a missing directory', () => ['iolog', 'encode', '/nonexistent-dir/x.log']],
    ['encode into a directory', () => ['iolog', 'encode', dir]],
    ['encode --stream all', () => ['iolog', 'encode', '--stream', 'all', next()]],
  ];
  for (const [what, args] of cases) {
    it(`exits 2 with one line on stderr for ${what}`, async () => {
      const r = text(cli(await args(), 'input\n'));
      expect(r.status, r.err).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^vic-kubelet: [^\n]+\n$/);
      expect(r.err).not.toContain('    at ');
    });
  }

  it('leaves no file behind when it cannot encode', () => {
    mkdirSync(join(dir, 'sub'));
    expect(cli(['iolog', 'encode', join(dir, 'sub', 'missing', 'x.log')], 'x\n').status).toBe(2);
    expect(existsSync(join(dir, 'sub', 'missing'))).toBe(false);
  });
});
