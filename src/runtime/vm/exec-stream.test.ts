// An interactive exec's host side against an agent played by the test over real unix sockets
// (the control port and the data port): the request it sends, the exit known only once the
// output has all come (in whichever order the two ports deliver), news for other execs ignored.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeLine } from '../core/protocol.js';
import { ControlChannel } from './control.js';
import {
  creditFrame,
  DATA_WINDOW,
  encodeFrame,
  FRAME,
  FrameReader,
  type Frame,
} from './data-frames.js';
import { DataMux } from './data-mux.js';
import { execioRequest, requestExecStream } from './exec-stream.js';

const ID = 'c'.repeat(64);
const proc = {
  args: ['sh', '-c', 'x y'],
  env: ['A=1'],
  cwd: '/w',
  user: { uid: 1, gid: 2, additionalGids: [3, 4], home: '/' },
};
const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

async function listen(): Promise<{ path: string; accepted: Promise<Socket>; done: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'exec-stream-test-'));
  const path = join(dir, 's');
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  return { path, accepted, done: () => (server.close(), rmSync(dir, { recursive: true })) };
}

/** The agent's ends: the lines and frames the host sent. */
interface Agent {
  control: Socket;
  data: Socket;
  lines: string[][];
  frames: Frame[];
}

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

async function setup(): Promise<{ control: ControlChannel; mux: DataMux; agent: Agent }> {
  const c = await listen();
  const d = await listen();
  const control = await ControlChannel.connect(c.path);
  const mux = await DataMux.connect(d.path);
  const agent: Agent = {
    control: await c.accepted,
    data: await d.accepted,
    lines: [],
    frames: [],
  };
  c.done();
  d.done();
  let text = '';
  agent.control.setEncoding('utf8').on('data', (t: string) => {
    text += t;
    let nl;
    while ((nl = text.indexOf('\n')) >= 0) {
      agent.lines.push(decodeLine(text.slice(0, nl))!);
      text = text.slice(nl + 1);
    }
  });
  const reader = new FrameReader();
  agent.data.on('data', (b: Buffer) => agent.frames.push(...reader.push(b)));
  cleanups.push(() => {
    control.close();
    mux.close();
    agent.control.destroy();
    agent.data.destroy();
  });
  return { control, mux, agent };
}

async function text(r: Readable | undefined): Promise<string> {
  let s = '';
  for await (const c of r ?? []) s += (c as Buffer).toString();
  return s;
}

describe('execio', () => {
  it('puts the channel, the flags and the size after the process fields', () => {
    expect(
      execioRequest(ID, 'e1', proc, 7, {
        stdin: true,
        tty: true,
        size: { width: 100, height: 30 },
      }),
    ).toEqual([
      'execio',
      ID,
      'e1',
      1,
      2,
      '3,4',
      '/w',
      3,
      'sh',
      '-c',
      'x y',
      1,
      'A=1',
      7,
      'stdin,tty',
      100,
      30,
    ]);
    expect(execioRequest(ID, 'e1', proc, 8, {}).slice(-4)).toEqual([8, '', 80, 24]);
  });

  it('knows the exit once both the execexit line and the output have come, in either order', async () => {
    const { control, mux, agent } = await setup();
    const x = requestExecStream(control, mux, ID, proc, {});
    await tick();
    const [req] = agent.lines;
    expect(req![0]).toBe('execio');
    const execId = req![2]!;
    const chan = Number(req![req!.length - 4]);
    // No stdin: the host says EOF once the agent has opened the channel (its first credit).
    expect(agent.frames).toEqual([]);
    agent.data.write(creditFrame(chan, DATA_WINDOW));
    await tick();
    expect(agent.frames.map((f) => [f.chan, f.type])).toEqual([[chan, FRAME.eof]]);
    let code: number | undefined;
    void x.exit.then((c) => (code = c));
    // Another exec's exit, and a line for another container: not ours.
    agent.control.write(`execexit ${ID} other 1 -\nexecexit ${'d'.repeat(64)} ${execId} 1 -\n`);
    agent.control.write(`execexit ${ID} ${execId} 7 -\n`);
    await tick();
    expect(code).toBeUndefined(); // the output has not ended yet
    agent.data.write(
      Buffer.concat([
        encodeFrame(chan, FRAME.data, Buffer.from('out')),
        encodeFrame(chan, FRAME.stderr, Buffer.from('err')),
        encodeFrame(chan, FRAME.eof),
      ]),
    );
    const [out, err, exit] = await Promise.all([text(x.stdout), text(x.stderr), x.exit]);
    expect({ out, err, exit }).toEqual({ out: 'out', err: 'err', exit: 7 });
    expect(mux.size).toBe(0);
  });

  it('a refused exec ends with its reason on stderr after the agent resets the channel', async () => {
    const { control, mux, agent } = await setup();
    const x = requestExecStream(control, mux, ID, proc, { stdin: true });
    await tick();
    const req = agent.lines[0]!;
    const chan = Number(req[req.length - 4]);
    agent.data.write(encodeFrame(chan, FRAME.reset));
    agent.control.write(`execexit ${ID} ${req[2]} 126 container%20not%20running\n`);
    const [err, exit] = await Promise.all([text(x.stderr), x.exit, text(x.stdout)]);
    expect([err, exit]).toEqual(['container not running\n', 126]);
    // stdin written after the end is dropped, not an error.
    await new Promise<void>((r) => x.stdin!.end('late', () => r()));
  });

  it('sends stdin, resizes and kills as the protocol says', async () => {
    const { control, mux, agent } = await setup();
    const x = requestExecStream(control, mux, ID, proc, { stdin: true, tty: true });
    expect(x.stderr).toBeUndefined();
    x.stdin!.end('typed');
    x.resize({ width: 120, height: 40 });
    x.kill();
    x.kill();
    await tick();
    const execId = agent.lines[0]![2];
    agent.data.write(creditFrame(Number(agent.lines[0]!.at(-4)), DATA_WINDOW));
    await tick();
    expect(agent.lines.slice(1)).toEqual([
      ['execresize', ID, execId, '120', '40'],
      ['execsignal', ID, execId, '9'],
    ]);
    const chan = Number(agent.lines[0]![agent.lines[0]!.length - 4]);
    expect(agent.frames.map((f) => [f.chan, f.type, f.data.toString()])).toEqual([
      [chan, FRAME.data, 'typed'],
      [chan, FRAME.eof, ''],
    ]);
  });

  it('rejects when the pod VM goes away', async () => {
    const { control, mux, agent } = await setup();
    const x = requestExecStream(control, mux, ID, proc, {});
    x.stdout.resume();
    x.stderr!.resume();
    await tick();
    agent.control.destroy();
    agent.data.destroy();
    await expect(x.exit).rejects.toThrow(/went away/);
  });
});
