// `docker stats` with the real docker CLI against `vch serve`: a spinning busybox container
// shows a CPU percentage and memory use with --no-stream, and keeps refreshing when streamed;
// an unknown container is one clear error.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER, type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let work: string;
let stateDir: string;
let registry: Registry;
let vch: VchProcess;
let image: string;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-stats-'));
  stateDir = join(work, 'state');
  registry = await startRegistry();
  image = `${registry.host}/busybox:latest`;
  await pushImage(await buildBusyboxLayout(work), 'busybox', image);
  vch = await startVch(stateDir, join(work, 'docker.sock'), ['--insecure-registry', registry.host]);
}, 120_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

async function ok(args: string[]): Promise<string> {
  const r = await vch.docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** "12.5%" → 12.5; "3.2MiB / 1.9GiB" → bytes of the first. */
const percent = (s: string) => Number(s.replace('%', ''));
function bytes(s: string): number {
  const m = /^([\d.]+)([KMGT]?i?B)/.exec(s.trim())!;
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, kB: 1e3, MB: 1e6, GB: 1e9 }[m[2]];
  return Number(m[1]) * (unit ?? NaN);
}

describe('docker stats', () => {
  it('--no-stream shows a busy container’s CPU and memory', async () => {
    await ok([
      'run', '-d', '--name', 'spin', image,
      'sh', '-c', 'x=$(head -c 8000000 /dev/zero | tr "\\0" a); while :; do :; done',
    ]); // prettier-ignore
    const row = JSON.parse(
      await ok(['stats', '--no-stream', '--format', '{{json .}}', 'spin']),
    ) as Record<string, string>;
    expect(row.Name).toBe('spin');
    expect(percent(row.CPUPerc)).toBeGreaterThan(10);
    expect(bytes(row.MemUsage.split('/')[0])).toBeGreaterThan(4_000_000);
    expect(bytes(row.MemUsage.split('/')[1])).toBeGreaterThan(0);
    expect(Number(row.PIDs)).toBeGreaterThan(0);
  }, 60_000);

  it('streams: refreshes each second until stopped', async () => {
    const child = spawn(DOCKER, ['stats', '--format', '{{.Name}} {{.CPUPerc}}', 'spin'], {
      env: { ...process.env, DOCKER_HOST: `unix://${vch.socket}` },
    });
    let out = '';
    const rows = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no refreshes: ${out}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const found = [...out.matchAll(/spin (\d+(?:\.\d+)?)%/g)].map((m) => m[1]);
        // The CLI redraws twice a second; a rate shows once it has two readings.
        if (found.length >= 3 && found.some((p) => Number(p) > 10)) {
          clearTimeout(timer);
          resolve(found);
        }
      });
    });
    child.kill('SIGTERM');
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...rows.map(Number))).toBeGreaterThan(10);
  }, 30_000);

  it('an unknown container: one line', async () => {
    const r = await vch.docker(['stats', '--no-stream', 'nope']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/No such container: nope$/);
    await ok(['rm', '-f', 'spin']);
  });
});
