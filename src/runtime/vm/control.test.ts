import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControlChannel, MAX_AGENT_LINE, parseAgentLine, type AgentMessage } from './control.js';

describe('agent lines', () => {
  it('parses the news the agent sends', () => {
    expect(parseAgentLine('hello 6.1.0-56-amd64')).toEqual({
      type: 'hello',
      release: '6.1.0-56-amd64',
    });
    expect(parseAgentLine('started abc 12 1000')).toEqual({
      type: 'started',
      id: 'abc',
      pid: 12,
      startedNs: 1000n,
    });
    expect(parseAgentLine('exited abc 137 9 1000 2000 1 -')).toMatchObject({
      type: 'exited',
      id: 'abc',
      exitCode: 137,
      signal: 9,
      oom: true,
      error: '',
    });
    expect(parseAgentLine('error - no%20such%20thing')).toEqual({
      type: 'error',
      id: '',
      message: 'no such thing',
    });
  });

  it("parses an exec's output chunks and its exit", () => {
    const data = Buffer.from([0, 1, 0xff, 0x0a, 0x41]);
    expect(parseAgentLine(`execout abc e1 2 ${data.toString('base64')}`)).toEqual({
      type: 'execout',
      id: 'abc',
      execId: 'e1',
      stream: 'stderr',
      data,
    });
    expect(parseAgentLine('execout abc e1 1 -')).toMatchObject({
      stream: 'stdout',
      data: Buffer.alloc(0),
    });
    expect(parseAgentLine('execexit abc e1 3 -')).toEqual({
      type: 'execexit',
      id: 'abc',
      execId: 'e1',
      exitCode: 3,
      error: '',
    });
    expect(parseAgentLine('execexit abc e1 127 exec%20nope')).toMatchObject({
      exitCode: 127,
      error: 'exec nope',
    });
  });

  it('refuses exec lines a hostile guest could bend: bad streams, base64, codes, sizes', () => {
    for (const line of [
      'execout abc e1 3 QUFB',
      'execout abc e1 1 QUF',
      'execout abc e1 1 QU%3DB',
      `execout abc e1 1 ${Buffer.alloc(2049).toString('base64')}`,
      'execout abc e1 1',
      'execexit abc e1 256 -',
      'execexit abc e1 -1 -',
      'execexit abc e1 3',
    ])
      expect(parseAgentLine(line)).toBeUndefined();
    expect(parseAgentLine(`execout a b 1 ${Buffer.alloc(2048).toString('base64')}`)).toBeDefined();
  });

  it('ignores what it does not know', () => {
    expect(parseAgentLine('exited abc x')).toBeUndefined();
    expect(parseAgentLine('started abc')).toBeUndefined();
    expect(parseAgentLine('garbage from a serial line')).toBeUndefined();
    expect(parseAgentLine('hello %zz')).toBeUndefined();
  });
});

describe('stats lines', () => {
  const id = 'a'.repeat(64);

  it('reads the agent’s figures; "max" is no limit and -1 a figure it could not read', () => {
    expect(parseAgentLine(`stats ${id} 2500000 20971520 max 6291456 8388608 5000 -1`)).toEqual({
      type: 'stats',
      id,
      usageUsec: 2500000,
      current: 20971520,
      inactiveFile: 6291456,
      anon: 8388608,
      pgfault: 5000,
      pgmajfault: 0,
    });
    expect(parseAgentLine(`stats ${id} 1 2 67108864 3 4 5 6`)).toMatchObject({ max: 67108864 });
  });

  it('drops what a hostile agent could send instead', () => {
    for (const bad of [
      `stats ${id} 1 2 max 3 4 5`,
      `stats ${id} 1 2 max 3 4 5 6 7`,
      `stats ${id} -5 2 max 3 4 5 6`,
      `stats ${id} 1e9 2 max 3 4 5 6`,
      `stats ${id} 1 2 lots 3 4 5 6`,
      `stats ${id} 99999999999999999999 2 max 3 4 5 6`,
    ])
      expect(parseAgentLine(bad), bad).toBeUndefined();
  });
});

describe('connect answers', () => {
  it('parses connected and connfail with their channel', () => {
    expect(parseAgentLine('connected 7')).toEqual({ type: 'connected', chan: 7 });
    expect(parseAgentLine('connfail 4294967295 127.0.0.1:%20refused')).toEqual({
      type: 'connfail',
      chan: 4294967295,
      message: '127.0.0.1: refused',
    });
  });

  it('refuses channel numbers the host cannot have handed out, and wrong field counts', () => {
    for (const line of [
      'connected 0',
      'connected 4294967296',
      'connected 01',
      'connected -1',
      'connected x',
      'connected 99999999999999999999',
      'connected 1 2',
      'connfail 1',
    ])
      expect(parseAgentLine(line), line).toBeUndefined();
  });

  it("keeps a connfail's message to one short line", () => {
    const m = parseAgentLine(`connfail 1 a%0Ab%1B${'x'.repeat(2000)}`);
    expect(m).toMatchObject({ type: 'connfail', chan: 1 });
    const message = (m as { message: string }).message;
    expect(message.length).toBe(512);
    expect(message).toMatch(/^a\\u000ab\\u001bx+$/);
  });
});

describe('the control channel', () => {
  it('drops a line longer than MAX_AGENT_LINE, and only that line', async () => {
    const [host, guest] = await socketPair();
    const ch = ControlChannel.over(host);
    const got: AgentMessage[] = [];
    ch.on('message', (m: AgentMessage) => got.push(m));
    guest.write('connected 1\n');
    guest.write(`connected ${'9'.repeat(MAX_AGENT_LINE + 10)}`);
    guest.write('connected 2\nconnected 3\n');
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([
      { type: 'connected', chan: 1 },
      { type: 'connected', chan: 3 },
    ]);
    ch.close();
    guest.destroy();
  });
});

/** Two connected sockets, over a unix socket in a directory of its own. */
async function socketPair(): Promise<[Socket, Socket]> {
  const dir = mkdtempSync(join(tmpdir(), 'control-test-'));
  const path = join(dir, 's');
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect(path);
  const guest = await accepted;
  await new Promise((r) => client.once('connect', r));
  server.close();
  rmSync(dir, { recursive: true, force: true });
  return [client, guest];
}
