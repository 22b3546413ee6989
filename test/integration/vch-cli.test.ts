// `vic-kubelet vch serve` as an operator runs it: bad flags get one line and status 2; the
// socket of a VCH that was killed is replaced, a live one is not; a second VCH on the same
// state directory is refused; the optional TCP listener is loopback only and speaks the same
// API to the docker CLI (-H tcp://…).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DOCKER,
  type VchProcess,
  cleanupVch,
  ensureBuilt,
  main,
  startVch,
  stopVch,
} from './docker-cli.js';
import { buildBusyboxLayout, freePort } from './registry.js';

let work: string;
/** The VCH last started on each state directory, for cleanup. */
const started = new Map<string, VchProcess>();

function serve(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [main, 'vch', 'serve', ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-cli-'));
}, 120_000);

afterAll(async () => {
  const failures: unknown[] = [];
  for (const v of started.values()) await cleanupVch(v.stateDir, v).catch((e) => failures.push(e));
  if (work) rmSync(work, { recursive: true, force: true });
  if (failures.length > 0) throw failures[0];
}, 60_000);

describe('vch serve flags', () => {
  it('answers mistakes with one line and status 2', () => {
    const state = join(work, 'flags');
    const cases: [string[], RegExp][] = [
      [['--docker-host', `unix://${work}/a.sock`], /required option '--state-dir/],
      [
        ['--state-dir', state, '--docker-host', 'tcp://127.0.0.1:2375'],
        /unix:\/\/\/absolute\/path/,
      ],
      [
        [
          '--state-dir',
          state,
          '--docker-host',
          `unix://${work}/a.sock`,
          '--docker-tcp',
          '0.0.0.0:2375',
        ],
        /only loopback addresses unless --docker-tcp-allow-remote/,
      ],
      [
        ['--state-dir', state, '--docker-host', `unix://${work}/a.sock`, '--docker-tcp', 'nope'],
        /want HOST:PORT/,
      ],
      [
        [
          '--state-dir',
          state,
          '--docker-host',
          `unix://${work}/a.sock`,
          '--insecure-registry',
          'a b',
        ],
        /--insecure-registry "a b": want HOST\[:PORT\]/,
      ],
      [
        ['--state-dir', state, '--docker-host', `unix://${work}/a.sock`, '--log-level', 'loud'],
        /--log-level "loud"/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = serve(args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('refuses to replace a file that is not a socket', () => {
    const notSocket = join(work, 'plain-file');
    writeFileSync(notSocket, 'keep me\n');
    const r = serve(['--state-dir', join(work, 'plain'), '--docker-host', `unix://${notSocket}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('exists and is not a socket');
  });
});

describe('vch serve listening', () => {
  it('replaces a stale socket, refuses a live one and a second VCH on its state', async () => {
    const socket = join(work, 'vch.sock');
    // A socket file nobody listens on, as a killed VCH leaves it: a process that exits
    // while listening does not remove its socket file.
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.exit(0))`,
    ]);
    expect(statSync(socket).isSocket()).toBe(true);
    const state = join(work, 'live');
    const vch = await startVch(state, socket);
    started.set(vch.stateDir, vch);
    expect(statSync(socket).mode & 0o777).toBe(0o660);

    const again = serve(['--state-dir', join(work, 'other'), '--docker-host', `unix://${socket}`]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`another server is listening on ${socket}`);
    const sameState = serve(['--state-dir', state, '--docker-host', `unix://${work}/second.sock`]);
    expect(sameState.status).toBe(1);
    expect(sameState.stderr).toContain(`is in use by process ${vch.child.pid}`);
    expect(await stopVch(vch)).toBe(0);
  });

  it('serves the same API on loopback TCP', async () => {
    const port = await freePort();
    const vch = await startVch(join(work, 'tcp'), join(work, 'tcp.sock'), [
      '--docker-tcp',
      `127.0.0.1:${port}`,
    ]);
    started.set(vch.stateDir, vch);
    const r = spawnSync(
      DOCKER,
      ['-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.APIVersion}}'],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      },
    );
    expect(r.stdout.trim(), r.stderr).toBe('1.43');
    expect(await stopVch(vch)).toBe(0);
    expect(vch.output()).toMatch(/"msg":"stopped"/);
  });

  it('SIGTERM ends attached clients and log followers at once; the container keeps running', async () => {
    const layout = await buildBusyboxLayout(join(work, 'img'));
    const archive = join(work, 'img', 'busybox.tar');
    spawnSync('skopeo', [
      'copy',
      '-q',
      `oci:${layout}:busybox`,
      `docker-archive:${archive}:busybox:1`,
    ]);
    const state = join(work, 'term');
    const socket = join(work, 'term.sock');
    const vch = await startVch(state, socket);
    started.set(vch.stateDir, vch);
    expect((await vch.docker(['load', '-i', archive])).code).toBe(0);
    const env = { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}` };
    const attached = spawn(
      DOCKER,
      ['run', '--name', 'fg', 'busybox:1', 'sh', '-c', 'while true; do echo up; sleep 0.2; done'],
      { env },
    );
    const attachedExit = new Promise((r) => attached.once('exit', r));
    let out = '';
    attached.stdout.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 100 && !out.includes('up'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('up');
    const follower = spawn(DOCKER, ['logs', '-f', 'fg'], { env });
    const followerExit = new Promise((r) => follower.once('exit', r));
    await new Promise((r) => setTimeout(r, 300));
    const pid = Number((await vch.docker(['inspect', '-f', '{{.State.Pid}}', 'fg'])).stdout.trim());

    const t0 = Date.now();
    expect(await stopVch(vch)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    await Promise.all([attachedExit, followerExit]);
    expect(existsSync(`/proc/${pid}`)).toBe(true);

    const again = await startVch(state, socket);
    started.set(again.stateDir, again);
    expect((await again.docker(['ps', '--format', '{{.Names}} {{.State}}'])).stdout).toContain(
      'fg running',
    );
  });
});
