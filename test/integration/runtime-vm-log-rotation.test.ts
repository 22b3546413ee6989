// A pod VM container's log rotated as a runc one's is: the agent, whose port cannot rename host
// files, asks the host when the file is full; the host rotates the files and gives the port a
// fresh output.log (src/runtime/vm/log-port-rotation.ts). 200k lines through 20+ rotations read
// back whole and in order, every file whole entries and within max-size; with few files the
// oldest go.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queryLog } from '../../src/iolog/index.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { createVmRuntime } from '../../src/runtime/vm/index.js';
import { decodeAll } from '../support/iolog.js';
import { busyboxRootfs, cleanupRuntimeDir, testContainerSpec } from '../support/runtime.js';
import { ensureAgent, killQemus, waitNoQemu } from '../support/vm.js';

const MAX_SIZE = 200 * 1024;
let tmp: string;
let stateDir: string;
let rootfs: string;
const runtimes: Runtime[] = [];
const newId = () => randomBytes(32).toString('hex');

beforeAll(() => {
  ensureAgent();
  tmp = mkdtempSync(join(tmpdir(), 'runtime-vm-logrot-'));
  stateDir = join(tmp, 'state');
  rootfs = busyboxRootfs(join(tmp, 'image-rootfs'));
});

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
});

afterAll(() => {
  if (!tmp) return;
  killQemus(tmp);
  waitNoQemu(tmp);
  cleanupRuntimeDir(tmp, join(stateDir, 'runc'));
});

async function text(path: string): Promise<string> {
  let s = '';
  for await (const c of queryLog(path)) s += c.data.toString();
  return s;
}
const seq = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join('');

/**
 * Waits for the last line: after the exit, output may still wait in the agent for a rotation
 * (or be in flight through the port).
 */
async function allOf(logPath: string, last: number): Promise<void> {
  const until = Date.now() + 30_000;
  while (!(await text(logPath)).endsWith(`\n${last}\n`)) {
    if (Date.now() > until) throw new Error(`no line ${last} in ${logPath} after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The log's files, with their bytes. */
function files(logPath: string): Buffer[] {
  const dir = dirname(logPath);
  return readdirSync(dir)
    .filter((f) => /^output\.log(\.\d+)?$/.test(f))
    .map((f) => readFileSync(join(dir, f)));
}

describe('vm runtime log rotation', () => {
  it('rotates at max-size through the agent and the host: every line, in order', async () => {
    const rt = createVmRuntime({ stateDir, logRotation: { maxSize: MAX_SIZE, maxFiles: 25 } });
    runtimes.push(rt);
    const sb = newId();
    await rt.createSandbox({ id: sb, hostname: 'vm-logrot' });
    const many = testContainerSpec(tmp, rootfs, newId(), ['sh', '-c', 'seq 1 200000']);
    const few = testContainerSpec(tmp, rootfs, newId(), ['sh', '-c', 'seq 1 400000']);
    await rt.createContainer(sb, many);
    await rt.createContainer(sb, few);
    await rt.start(many.id);
    expect((await rt.wait(many.id)).exitCode).toBe(0);
    await allOf(many.logPath, 200000);
    const got = files(many.logPath);
    expect(got.length).toBeGreaterThan(20);
    expect(got.length).toBeLessThanOrEqual(25);
    for (const f of got) {
      expect(f.length).toBeLessThanOrEqual(MAX_SIZE);
      const last = decodeAll(f).at(-1)!;
      expect(last.offset + 16 + last.message.length).toBe(f.length);
    }
    expect(await text(many.logPath)).toBe(seq(1, 200000));

    // 25 files cannot hold 400k lines: the oldest go, the rest is the newest, whole.
    await rt.start(few.id);
    expect((await rt.wait(few.id)).exitCode).toBe(0);
    await allOf(few.logPath, 400000);
    const left = files(few.logPath);
    expect(left.length).toBe(25);
    const n = (await text(few.logPath)).split('\n').slice(0, -1).map(Number);
    expect(n.at(-1)).toBe(400000);
    expect(n[0]).toBeGreaterThan(1);
    expect(n).toEqual(Array.from({ length: n.length }, (_, i) => n[0] + i));
  });
});
