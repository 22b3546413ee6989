// `docker top` with the real docker CLI against `vic-kubelet vch serve` (runc): the container's
// processes, and only them, as the host's ps shows them with the client's ps_args; a stopped
// container and ps_args that are not ps options are refused with one clear line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let work: string;
let stateDir: string;
let registry: Registry;
let vch: VchProcess;
let image: string;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-top-'));
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

describe('docker top', () => {
  it('lists the container’s processes with ps’s columns and the client’s ps_args', async () => {
    const run = await vch.docker([
      'run',
      '-d',
      '--name',
      'toppy',
      image,
      'busybox',
      'sleep',
      '3217',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const r = await vch.docker(['top', 'toppy']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    const cmds = lines.slice(1).map((l) => l.trim().split(/\s+/).slice(7).join(' '));
    // The tether (the container's init) and its process; nothing of the host.
    expect(cmds.some((c) => c === 'busybox sleep 3217')).toBe(true);
    expect(cmds.every((c) => c.includes('sleep 3217') || c.includes('tether'))).toBe(true);
    const aux = await vch.docker(['top', 'toppy', 'aux']);
    expect(aux.code, aux.stderr).toBe(0);
    expect(aux.stdout.split('\n')[0]).toMatch(/^USER\s+PID\s+%CPU/);
    expect(aux.stdout).toContain('busybox sleep 3217');
  }, 60_000);

  it('refuses ps_args that are not options, and a stopped container', async () => {
    const bad = await vch.docker(['top', 'toppy', '-o', 'pid;cat /etc/shadow']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/not ps options/);
    await vch.docker(['rm', '-f', 'toppy']);
    const c = await vch.docker(['create', '--name', 'idle', image, 'true']);
    expect(c.code, c.stderr).toBe(0);
    const r = await vch.docker(['top', 'idle']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/is not running/);
  }, 60_000);
});
