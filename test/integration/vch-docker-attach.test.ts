// A container's own stdin and terminal with the real docker CLI against `vch serve` (runc):
// `docker run -i` with piped stdin (StdinOnce: the container's stdin closes at its end),
// `docker run -it --rm … sh` under tmux (a terminal that follows the window), `docker attach`
// with stdin to a running container (sessions come and go), and the refusals.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
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

/** A raw Docker API call on the VCH's socket: status and body. */
function api(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: vch.socket, method, path, headers: { 'content-type': 'application/json' } },
      (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-docker-attach-'));
  stateDir = join(work, 'state');
  let layout: string;
  [registry, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  image = `${registry.host}/busybox:latest`;
  await pushImage(layout, 'busybox', image);
  vch = await startVch(stateDir, join(work, 'docker.sock'), ['--insecure-registry', registry.host]);
}, 120_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

const tools = 'for a in cat sha256sum stty; do busybox ln -s busybox /bin/$a; done';

describe('docker run -i / -it and docker attach against the VCH', () => {
  it('run -i --rm: 4 MiB of piped stdin reach the container, whose stdin then closes', async () => {
    const data = randomBytes(4 << 20);
    const r = await dockerIn(
      ['run', '-i', '--rm', image, 'sh', '-c', `${tools}; sha256sum; echo stdin-closed`],
      data,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${createHash('sha256').update(data).digest('hex')}  -\nstdin-closed\n`);
  }, 60_000);

  it('run -it --rm … sh under tmux: a terminal that follows the window, exit code through', async () => {
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
        '-e', `DOCKER_HOST=unix://${vch.socket}`,
        `${DOCKER} run -it --rm --name tty1 ${image} sh; echo docker-exit=$?; sleep 60`,
      ); // prettier-ignore
      await waitFor(/^[/~] #/m);
      tmux('send-keys', '-t', 'main', `${tools}; stty size; [ -t 0 ] && echo T-T-Y`, 'Enter');
      await waitFor(/^25 90$/m);
      await waitFor(/^T-T-Y$/m);
      tmux('resize-window', '-t', 'main', '-x', '110', '-y', '35');
      await new Promise((r) => setTimeout(r, 500));
      tmux('send-keys', '-t', 'main', 'clear; stty size', 'Enter');
      await waitFor(/^35 110$/m);
      tmux('send-keys', '-t', 'main', 'exit 5', 'Enter');
      await waitFor(/^docker-exit=5$/m);
    } finally {
      spawnSync('tmux', ['-S', sock, 'kill-server']);
    }
    // --rm: gone once it exited.
    const deadline = Date.now() + 10_000;
    while ((await vch.docker(['inspect', 'tty1'])).code === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect((await vch.docker(['inspect', 'tty1'])).code).not.toBe(0);
  }, 90_000);

  it('docker attach with stdin: sessions come and go, the container keeps its stdin', async () => {
    const run = await vch.docker([
      'run', '-d', '-i', '--name', 'reader', image,
      'sh', '-c', 'while read l; do echo "got:$l"; done; echo reader-eof',
    ]); // prettier-ignore
    expect(run.code, run.stderr).toBe(0);
    expect(
      (await vch.docker(['inspect', '-f', '{{.Config.OpenStdin}} {{.Config.StdinOnce}}', 'reader']))
        .stdout,
    ).toBe('true false\n');
    // As on Docker, `docker attach` returns when the container exits: each session is the CLI
    // attached until the output shows, then killed (SIGKILL: no signal proxied).
    const attach = async (input: string, want: string) => {
      const a = spawn(DOCKER, ['attach', '--sig-proxy=false', 'reader'], {
        env: env(),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      a.stdout.on('data', (d: Buffer) => (out += d.toString()));
      // Input once the session is there (the output is what follows the attach).
      await new Promise((r) => setTimeout(r, 1000));
      // Kept open: its end would end the session's output (no StdinOnce), maybe before the
      // container's answer is out.
      a.stdin.write(input);
      const deadline = Date.now() + 15_000;
      while (!out.includes(want) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      a.kill('SIGKILL');
      return out;
    };
    expect(await attach('one\ntwo\n', 'got:two')).toBe('got:one\ngot:two\n');
    // Without StdinOnce the end of a session's input leaves the container's stdin open.
    expect(await attach('three\n', 'got:three')).toBe('got:three\n');
    expect((await vch.docker(['inspect', '-f', '{{.State.Running}}', 'reader'])).stdout).toBe(
      'true\n',
    );
    const logs = await vch.docker(['logs', 'reader']);
    expect(logs.stdout).toBe('got:one\ngot:two\ngot:three\n');
    await vch.docker(['rm', '-f', 'reader']);
  }, 60_000);

  it('refusals: a bad Tty, a resize without a terminal, attach input to a container without stdin is dropped', async () => {
    const bad = await api('POST', '/v1.43/containers/create', { Image: image, Tty: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/invalid Tty/);
    const run = await vch.docker(['run', '-d', '--name', 'plain', image, 'busybox', 'sleep', '60']);
    expect(run.code, run.stderr).toBe(0);
    const resize = await api('POST', '/v1.43/containers/plain/resize?h=10&w=20');
    expect(resize.status).toBe(409);
    expect(resize.body).toMatch(/has no terminal/);
    const out = await api('POST', '/v1.43/containers/plain/resize?h=10&w=-1');
    expect(out.status).toBe(400);
    // As Docker: `docker attach` to a container without stdin attaches its output alone.
    const a = spawn(DOCKER, ['attach', 'plain'], { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
    a.stdin.end('ignored\n');
    await new Promise((r) => setTimeout(r, 1000));
    expect(a.exitCode).toBe(null); // still attached: its stdin's end did not end it
    a.kill('SIGKILL');
    expect((await vch.docker(['inspect', '-f', '{{.State.Running}}', 'plain'])).stdout).toBe(
      'true\n',
    );
    await vch.docker(['rm', '-f', 'plain']);
  }, 60_000);
});
