// The tether (tether/*.c): its iolog writer reproduces VIC's vectors and our TS writer byte for
// byte, and as an init it runs, logs, signals, reaps and records status as the runtime needs.
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEntries, steppingClock, LogWriter, type LogEntry } from '../iolog/index.js';
import { ensureTether } from '../../test/support/runtime.js';

let tether: string;
let tmp: string;
beforeAll(() => {
  tether = ensureTether();
  tmp = mkdtempSync(join(tmpdir(), 'tether-test-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Frames for --iolog-replay: stream byte, uint32 LE length, bytes. */
function frames(writes: { stream: number; bytes: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const w of writes) {
    const head = Buffer.alloc(5);
    head[0] = w.stream;
    head.writeUInt32LE(w.bytes.length, 1);
    parts.push(head, w.bytes);
  }
  return Buffer.concat(parts);
}

function replay(start: bigint, step: bigint, writes: { stream: number; bytes: Buffer }[]): Buffer {
  const r = spawnSync(tether, ['--iolog-replay', String(start), String(step)], {
    input: frames(writes),
    maxBuffer: 1 << 28,
  });
  expect(r.status, r.stderr.toString()).toBe(0);
  return r.stdout;
}

describe('tether iolog writer', () => {
  const dir = new URL('../../test/vectors/vic-iolog/', import.meta.url);
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5));

  it('has the five vectors', () => {
    expect(names.sort()).toEqual(['binary', 'long', 'partial', 'random', 'simple']);
  });

  for (const name of names) {
    it(`writes ${name}.log byte for byte`, () => {
      // Timestamps exceed 2^53: keep the long integers as strings.
      const text = readFileSync(new URL(`${name}.json`, dir), 'utf8').replace(
        /:\s*(\d{16,})/g,
        ':"$1"',
      );
      const v = JSON.parse(text) as {
        clock_start_unix_nano: string | number;
        clock_step_ns: string | number;
        writes: { chunk_b64: string }[];
      };
      const out = replay(
        BigInt(v.clock_start_unix_nano),
        BigInt(v.clock_step_ns),
        v.writes.map((w) => ({ stream: 0, bytes: Buffer.from(w.chunk_b64, 'base64') })),
      );
      expect(out.equals(readFileSync(new URL(`${name}.log`, dir)))).toBe(true);
    });
  }

  it('writes both streams as the TS writer does, long lines and holding included', async () => {
    // A seeded generator: the same interleaving on every run.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const writes: { stream: number; bytes: Buffer }[] = [];
    for (let i = 0; i < 300; i++) {
      // Mostly short lines; one write in five a long run with newlines few and far between.
      const long = rand(5) === 0;
      const len = long ? 4000 + rand(20000) : rand(300);
      const nl = long ? 9000 : 40;
      const bytes = Buffer.alloc(len);
      for (let j = 0; j < len; j++) bytes[j] = rand(nl) === 0 ? 10 : 97 + rand(26);
      writes.push({ stream: rand(2), bytes });
    }
    const sink = new PassThrough();
    const parts: Buffer[] = [];
    sink.on('data', (c: Buffer) => parts.push(Buffer.from(c)));
    const w = new LogWriter(sink, {
      clock: steppingClock(1000n, 7n),
      holdBytes: 65536, // the tether's IOLOG_HOLD_BYTES
      holdMs: 1e9, // replay never expires a hold
    });
    for (const x of writes) w.write(x.stream as 0 | 1, x.bytes);
    await w.close();
    const expected = Buffer.concat(parts);
    const got = replay(1000n, 7n, writes);
    // The input does open long lines (4095-byte pieces without a newline) in both streams.
    const open = [0, 0];
    for await (const e of readEntries(
      (async function* () {
        yield expected;
      })(),
    )) {
      if (e.message.length === 4095 && e.message[4094] !== 10) open[e.stream]++;
    }
    expect(open[0]).toBeGreaterThan(10);
    expect(open[1]).toBeGreaterThan(10);
    expect(got.length).toBe(expected.length);
    expect(got.equals(expected)).toBe(true);
  });
});

let runs = 0;
/**
 * Runs the tether over args, with its log on fd 3 and its status records on fd 4 (files opened
 * O_APPEND, as the VCH does); a leading "--user X" goes before "--" as a tether flag. `via`:
 * a command that runs the tether (setpriv ...).
 */
function run(args: string[], via: string[] = []) {
  const dir = join(tmp, `run-${++runs}`);
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'output.log');
  const status = join(dir, 'status');
  const fd = openSync(log, 'a');
  const sfd = openSync(status, 'a', 0o600);
  // The tether's own flags: before a '--' in args, or a leading --user.
  const sep = args.indexOf('--');
  const flags =
    sep >= 0 ? args.splice(0, sep + 1).slice(0, -1) : args[0] === '--user' ? args.splice(0, 2) : [];
  const cmd = [...via, tether, '--log-fd', '3', '--status-fd', '4', ...flags, '--', ...args];
  const child = spawn(cmd[0], cmd.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe', fd, sfd],
  });
  closeSync(fd);
  closeSync(sfd);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  type Exit = { code: number | null; signal: NodeJS.Signals | null; stderr: string };
  const exited = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { pid: child.pid!, log, status, exited };
}

const text = (es: LogEntry[]) => es.map((e) => e.message.toString()).join('');

async function entries(log: string): Promise<LogEntry[]> {
  const got: LogEntry[] = [];
  for await (const e of readEntries(log)) got.push(e);
  return got;
}

async function waitForLog(log: string, text: string, ms = 5000): Promise<LogEntry[]> {
  const until = Date.now() + ms;
  for (;;) {
    const got = await entries(log);
    if (got.some((e) => e.message.toString().includes(text))) return got;
    if (Date.now() > until) throw new Error(`no "${text}" in the log after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The status records (tether/protocol.h), each a line of percent-encoded tokens. */
function records(content: string): string[][] {
  expect(content === '' || content.endsWith('\n')).toBe(true);
  return content
    .split('\n')
    .slice(0, -1)
    .map((line) => line.split(' ').map((t) => (t === '-' ? '' : decodeURIComponent(t))));
}

/** The last started record of a status file, if any: one of the tether's, which has no id. */
function started(status: string) {
  const t = records(readFileSync(status, 'utf8'))
    .filter((t) => t[0] === 'started')
    .at(-1);
  if (t) expect([t[1], t.length]).toEqual(['', 4]);
  return t && { pid: Number(t[2]), startedNs: BigInt(t[3]) };
}

/** The last exited record of a status file. */
function exited(status: string) {
  const t = records(readFileSync(status, 'utf8'))
    .filter((t) => t[0] === 'exited')
    .at(-1)!;
  expect([t[1], t.length]).toEqual(['', 8]);
  const [exitCode, signal, startedNs, finishedNs, oom] = t.slice(2, 7).map(BigInt);
  return {
    exitCode: Number(exitCode),
    signal: Number(signal),
    startedNs,
    finishedNs,
    oom: Number(oom),
    error: t[7],
  };
}

describe('tether as init', () => {
  it('logs stdout and stderr stream-tagged and records started and exit status', async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const r = run(['sh', '-c', 'echo out; echo err >&2; printf partial; exit 3']);
    const { code } = await r.exited;
    expect(code).toBe(3);
    const got = await entries(r.log);
    const byStream = (s: number) =>
      got
        .filter((e) => e.stream === s)
        .map((e) => e.message.toString())
        .join('');
    expect(byStream(0)).toBe('out\npartial');
    expect(byStream(1)).toBe('err\n');
    for (const e of got) expect(e.timestamp >= before).toBe(true);
    // Exactly two records, each one whole line.
    expect(readFileSync(r.status, 'utf8')).toMatch(
      /^started - [1-9]\d* \d{19}\nexited - 3 0 \d{19} \d{19} 0 -\n$/,
    );
    const s = started(r.status)!;
    const exit = exited(r.status);
    expect(s.pid).toBeGreaterThan(0);
    expect(exit).toMatchObject({ exitCode: 3, signal: 0, oom: 0, error: '' });
    expect(exit.startedNs).toBe(s.startedNs);
    expect(exit.finishedNs >= s.startedNs).toBe(true);
    expect(s.startedNs >= before).toBe(true);
  });

  it('keeps its log and status fds from the process, and /proc cannot reach them', async () => {
    // As in a container: root without CAP_SYS_PTRACE, the tether and its process alike. The
    // process holds neither fd, and the tether is not dumpable, so its /proc/PID/fd links are
    // closed to a process of the same user (they would be open were it dumpable).
    const r = run(
      [
        'sh',
        '-c',
        'for f in 3 4; do [ -e /proc/$$/fd/$f ] && echo "holds $f"; done; ' +
          'for f in 3 4; do readlink /proc/$PPID/fd/$f >/dev/null 2>&1 && echo "reads $f"; done; ' +
          'echo checked',
      ],
      ['setpriv', '--inh-caps=-sys_ptrace', '--bounding-set=-sys_ptrace'],
    );
    const { code, stderr } = await r.exited;
    expect(code, stderr).toBe(0);
    expect(text(await entries(r.log))).toBe('checked\n');
  });

  it('reports a child killed by a signal as 128+N', async () => {
    const r = run(['sh', '-c', 'kill -KILL $$']);
    expect((await r.exited).code).toBe(137);
    expect(exited(r.status)).toMatchObject({ exitCode: 137, signal: 9 });
  });

  it('forwards signals to the child', async () => {
    const r = run([
      'sh',
      '-c',
      'trap "echo got TERM; exit 7" TERM; echo ready; while true; do sleep 0.05; done',
    ]);
    await waitForLog(r.log, 'ready');
    process.kill(r.pid, 'SIGTERM');
    expect((await r.exited).code).toBe(7);
    expect((await entries(r.log)).map((e) => e.message.toString())).toContain('got TERM\n');
    expect(exited(r.status)).toMatchObject({ exitCode: 7, signal: 0 });
  });

  it('reaps orphans of the container', async () => {
    // The inner shell exits at once; its background sleep is orphaned and comes to the tether
    // (a subreaper), which must reap it when it exits.
    const r = run(['sh', '-c', 'sh -c "sleep 0.3 & echo orphan \\$!"; sleep 2']);
    const got = await waitForLog(r.log, 'orphan');
    const orphan = Number(/orphan (\d+)/.exec(got.map((e) => e.message).join(''))![1]);
    const ppid = (pid: number) =>
      Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    expect(ppid(orphan)).toBe(r.pid);
    await new Promise((res) => setTimeout(res, 800));
    // Gone, not a zombie waiting for its parent.
    expect(existsSync(`/proc/${orphan}`)).toBe(false);
    process.kill(r.pid, 'SIGTERM');
    expect((await r.exited).code).toBe(143);
  });

  it('exits soon after its process even while an orphan keeps writing to the pipes', async () => {
    const r = run([
      'sh',
      '-c',
      '(while true; do echo orphan-noise; done) & sleep 0.2; echo main-done',
    ]);
    const t = Date.now();
    expect((await r.exited).code).toBe(0);
    expect(Date.now() - t).toBeLessThan(3000);
    const got = await entries(r.log);
    expect(got.some((e) => e.message.toString() === 'main-done\n')).toBe(true);
    expect(exited(r.status)).toMatchObject({ exitCode: 0 });
  });

  it('runs the process as --user with exactly its groups, itself staying root', async () => {
    const r = run(['--user', '1000:1001:50,44', 'sh', '-c', 'id -u; id -g; id -G']);
    // run() puts its own flags first; --user comes after them, before --.
    expect((await r.exited).code).toBe(0);
    expect(text(await entries(r.log))).toBe('1000\n1001\n1001 44 50\n'); // the kernel sorts groups
  });

  it('hands the process only the --caps mask, and no_new_privs with --no-new-privs', async () => {
    const status = "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status";
    const r = run(['--caps', '1000', '--no-new-privs', '--', 'sh', '-c', status]);
    expect((await r.exited).code).toBe(0);
    expect(text(await entries(r.log))).toMatch(
      /^CapEff:\s+0000000000001000\nCapBnd:\s+0000000000001000\nNoNewPrivs:\s+1\n$/,
    );
    const user = run(['--user', '1000:1000', '--caps', '1000', '--', 'sh', '-c', status]);
    expect((await user.exited).code).toBe(0);
    expect(text(await entries(user.log))).toMatch(
      /^CapEff:\s+0000000000000000\nCapBnd:\s+0000000000001000\nNoNewPrivs:\s+0\n$/,
    );
    const bad = spawnSync(tether, ['--caps', 'zz', '--', 'true'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });

  it('holds stderr back while a long stdout line is open, until it ends', async () => {
    // The 5000-byte line is cut at 4095; stderr written meanwhile waits for the line's end,
    // which comes 10 ms later (well inside the 50 ms hold; without holding, err would be read
    // in the same round as the first 5000 bytes and land inside the line).
    const r = run([
      'sh',
      '-c',
      'head -c 5000 /dev/zero | tr "\\0" a; echo err >&2; sleep 0.01; echo tail',
    ]);
    expect((await r.exited).code).toBe(0);
    const got = (await entries(r.log)).map((e) => [e.stream, e.message.length]);
    expect(got).toEqual([
      [0, 4095],
      [0, 905 + 5],
      [1, 4],
    ]);
  });

  it('gives up holding after 50 ms: the long line is cut and stderr goes in between', async () => {
    const r = run([
      'sh',
      '-c',
      'head -c 5000 /dev/zero | tr "\\0" a; echo err >&2; sleep 0.4; echo tail',
    ]);
    expect((await r.exited).code).toBe(0);
    const got = (await entries(r.log)).map((e) => [e.stream, e.message.toString()]);
    expect(got.map(([s]) => s)).toEqual([0, 1, 0]);
    expect(got[0][1]).toBe('a'.repeat(4095));
    expect(got[1][1]).toBe('err\n');
    expect(got[2][1]).toBe('a'.repeat(905) + 'tail\n');
  });

  it('keeps the process running when the log goes away (EPIPE is not forwarded as SIGPIPE)', async () => {
    const status = join(tmp, 'epipe-status');
    const sfd = openSync(status, 'a');
    const child = spawn(
      tether,
      [
        '--log-fd',
        '1',
        '--status-fd',
        '3',
        '--',
        'sh',
        '-c',
        'i=0; while [ $i -lt 20 ]; do echo x; i=$((i+1)); sleep 0.02; done; exit 4',
      ],
      { stdio: ['ignore', 'pipe', 'ignore', sfd] },
    );
    closeSync(sfd);
    // Read one entry, then close the read end: later log writes fail with EPIPE.
    await new Promise((r) => child.stdout!.once('data', r));
    child.stdout!.destroy();
    const code = await new Promise((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(4); // ran to its own end, not killed by a forwarded SIGPIPE
    expect(exited(status)).toMatchObject({ exitCode: 4, signal: 0 });
  });

  it('records a process that cannot start (127) and says why in the log', async () => {
    const r = run(['/no/such/program']);
    expect((await r.exited).code).toBe(127);
    const exit = exited(r.status);
    expect(exit.exitCode).toBe(127);
    expect(exit.error).toMatch(/^exec \/no\/such\/program: no such file or directory/);
    expect(started(r.status)).toBeUndefined();
    const got = await entries(r.log);
    expect(got).toHaveLength(1);
    expect(got[0].stream).toBe(1);
    expect(got[0].message.toString()).toMatch(/^tether: exec \/no\/such\/program/);
  });

  it('pause mode exits 0 on SIGTERM', async () => {
    const child = spawn(tether, ['--pause'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(0);
  });

  it('rejects a bad command line with usage and exit 2', () => {
    const r = spawnSync(tether, ['--bogus'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^usage: tether/);
  });
});
