// Log rotation as a user of `vch serve --container-log-max-size/--container-log-max-files` meets
// it through the real docker CLI: containers in runc sandboxes whose tether rotates their log;
// `docker logs` (all, --tail, --since, -f started before the rotations) reads the files as one
// log; the oldest files go and the disk stays bounded.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAll } from '../support/iolog.js';
import { DOCKER, type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

const MAX_SIZE = 200 * 1024;
const MAX_FILES = 25;
let work: string;
let stateDir: string;
let registry: Registry;
let vch: VchProcess;
let image: string;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-log-rotation-'));
  stateDir = join(work, 'state');
  const [r, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  registry = r;
  image = `${registry.host}/busybox:latest`;
  await pushImage(layout, 'busybox', image);
  vch = await startVch(stateDir, join(work, 'docker.sock'), [
    '--insecure-registry', registry.host, '--runtime', 'runc',
    '--container-log-max-size', String(MAX_SIZE), '--container-log-max-files', String(MAX_FILES),
  ]); // prettier-ignore
}, 120_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

async function ok(args: string[]): Promise<string> {
  const r = await vch.docker(args, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const seq = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join('');

/** The container's log files, oldest first, with their bytes. */
function logFiles(id: string): { name: string; bytes: Buffer }[] {
  const dir = join(stateDir, 'containers', id);
  const names = readdirSync(dir).filter((f) => /^output\.log(\.\d+)?$/.test(f));
  const index = (n: string) => (n === 'output.log' ? 0 : Number(n.split('.').pop()));
  return names
    .sort((a, b) => index(b) - index(a))
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

/** Full id of a container (its directory's name). */
async function fullId(ref: string): Promise<string> {
  return (await ok(['inspect', '--format', '{{.Id}}', ref])).trim();
}

describe('docker logs across rotated files', () => {
  it('200k lines through 20+ rotations: logs, --tail, --since and -f see one log', async () => {
    // In 20 bursts ~100 ms apart, so that --since has times to fall between.
    const script =
      'i=0; while [ $i -lt 20 ]; do seq $((i*10000+1)) $((i*10000+10000)); i=$((i+1)); sleep 0.1; done';
    const id = (await ok(['run', '-d', '--name', 'rot', image, 'sh', '-c', script])).trim();
    // A follower from the start, reading through every rotation as it happens.
    const follower = spawn(DOCKER, ['logs', '-f', id], {
      env: { ...process.env, DOCKER_HOST: `unix://${vch.socket}` },
    });
    let followed = '';
    follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    const followEnd = new Promise((r) => follower.once('exit', r));
    expect((await ok(['wait', id])).trim()).toBe('0');
    await followEnd;
    expect(followed).toBe(seq(1, 200000));

    const files = logFiles(await fullId(id));
    expect(files.length).toBeGreaterThan(20);
    expect(files.length).toBeLessThanOrEqual(MAX_FILES);
    for (const f of files) {
      expect(f.bytes.length).toBeLessThanOrEqual(MAX_SIZE);
      const last = decodeAll(f.bytes).at(-1)!;
      expect(last.offset + 16 + last.message.length).toBe(f.bytes.length);
    }
    expect(await ok(['logs', id])).toBe(seq(1, 200000));
    expect(await ok(['logs', '--tail', '10', id])).toBe(seq(199991, 200000));
    // --since a time inside the run: the first line stamped at or after it, and all after.
    const entries = files.flatMap((f) => decodeAll(f.bytes));
    const ns = entries[150000].ts;
    const first = entries.findIndex((e) => e.ts >= ns);
    const since = `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
    expect(await ok(['logs', '--since', since, id])).toBe(seq(first + 1, 200000));
  });

  it('drops the oldest files beyond max-files: disk stays under max-size × max-files', async () => {
    const id = (await ok(['run', '-d', image, 'sh', '-c', 'seq 1 600000'])).trim();
    expect((await ok(['wait', id])).trim()).toBe('0');
    const files = logFiles(await fullId(id));
    expect(files.length).toBe(MAX_FILES);
    const total = files.reduce((s, f) => s + f.bytes.length, 0);
    expect(total).toBeLessThanOrEqual(MAX_SIZE * MAX_FILES);
    const dir = join(stateDir, 'containers', await fullId(id));
    const onDisk = readdirSync(dir)
      .filter((f) => f.startsWith('output.log'))
      .reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    expect(onDisk).toBe(total);
    // What is left is the newest lines, in order, up to the last.
    const got = (await ok(['logs', id])).split('\n').slice(0, -1).map(Number);
    expect(got.at(-1)).toBe(600000);
    expect(got[0]).toBeGreaterThan(1);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => got[0] + i));
  });
});
