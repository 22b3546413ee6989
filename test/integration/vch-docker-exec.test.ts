// docker exec with the real docker CLI against `vch serve` (runc): exit codes, output apart,
// piped stdin (-i), a terminal (-it) under tmux that follows the window's size, detached (-d),
// and a clear refusal for a container that does not run.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupVch,
  DOCKER,
  ensureBuilt,
  startVch,
  type DockerResult,
  type VchProcess,
} from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let work: string;
let stateDir: string;
let registry: Registry;
let vch: VchProcess;
let image: string;

const env = () => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/root',
  DOCKER_HOST: `unix://${vch.socket}`,
});

/** docker with `input` on its stdin. */
function dockerIn(args: string[], input: Buffer | string): Promise<DockerResult> {
  const child = spawn(DOCKER, args, { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
  return new Promise((resolve) =>
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr }),
    ),
  );
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-docker-exec-'));
  stateDir = join(work, 'state');
  let layout: string;
  [registry, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  image = `${registry.host}/busybox:latest`;
  await pushImage(layout, 'busybox', image);
  vch = await startVch(stateDir, join(work, 'docker.sock'), ['--insecure-registry', registry.host]);
  const script =
    'for a in cat sleep sha256sum stty; do busybox ln -s busybox /bin/$a; done; exec sleep 3600';
  const r = await vch.docker(['run', '-d', '--name', 'box', image, 'sh', '-c', script]);
  if (r.code !== 0) throw new Error(r.stderr);
}, 120_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('docker exec against the VCH', () => {
  it('passes output apart and the exit code through', async () => {
    const r = await vch.docker(['exec', 'box', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(r).toEqual({ code: 7, stdout: 'out\n', stderr: 'err\n' });
  });

  it('exec -i: 20 MiB of stdin through sha256sum', async () => {
    const data = randomBytes(20 << 20);
    const r = await dockerIn(['exec', '-i', 'box', 'sha256sum'], data);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  }, 60_000);

  it('exec -d runs the command detached', async () => {
    const r = await vch.docker(['exec', '-d', 'box', 'sh', '-c', 'echo done > /tmp-marker']);
    expect(r.code, r.stderr).toBe(0);
    await new Promise((res) => setTimeout(res, 500));
    expect((await vch.docker(['exec', 'box', 'cat', '/tmp-marker'])).stdout).toBe('done\n');
  });

  it('exec -it under tmux: a terminal that follows the window', async () => {
    const sock = join(work, 'tmux');
    const tmux = (...a: string[]) => {
      const r = spawnSync('tmux', ['-S', sock, ...a], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`tmux ${a.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const waitFor = async (want: RegExp) => {
      const deadline = Date.now() + 30_000;
      let screen = '';
      while (Date.now() < deadline) {
        screen = tmux('capture-pane', '-p', '-t', 'main');
        if (want.test(screen)) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`no ${want} on the screen:\n${screen}`);
    };
    try {
      tmux(
        'new-session', '-d', '-s', 'main', '-x', '90', '-y', '25',
        '-e', `DOCKER_HOST=unix://${vch.socket}`, `${DOCKER} exec -it box sh`,
      ); // prettier-ignore
      tmux('send-keys', '-t', 'main', 'stty size; [ -t 0 ] && echo T-T-Y', 'Enter');
      await waitFor(/^25 90$/m);
      await waitFor(/^T-T-Y$/m);
      tmux('resize-window', '-t', 'main', '-x', '110', '-y', '35');
      await new Promise((r) => setTimeout(r, 500));
      tmux('send-keys', '-t', 'main', 'clear; stty size', 'Enter');
      await waitFor(/^35 110$/m);
      tmux('send-keys', '-t', 'main', 'exit 5', 'Enter');
    } finally {
      spawnSync('tmux', ['-S', sock, 'kill-server']);
    }
  }, 60_000);

  it('refuses an exec in a container that does not run', async () => {
    await vch.docker(['create', '--name', 'idle', image, 'true']);
    const r = await vch.docker(['exec', 'idle', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/is not running/);
  });
});
