// scripts/cluster.sh's promises: clear usage errors, a loud `up` that leaves nothing behind
// when it fails, and a `down` that stops its own control plane and no other.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { kubectl } from './cluster.js';

const script = fileURLToPath(new URL('../../scripts/cluster.sh', import.meta.url));
const cluster = inject('cluster');

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [script, ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The lines after `up`'s "last lines of LOG:" are lines of that log (it goes on after). */
function expectLogTail(stderr: string, log: string): void {
  const tail = stderr
    .split(`last lines of ${log}:\n`)[1]
    ?.split('\n')
    .filter((l) => l !== '');
  expect(tail?.length).toBeGreaterThan(0);
  const lines = new Set(readFileSync(log, 'utf8').split('\n'));
  for (const line of tail ?? []) expect(lines).toContain(line);
}

/** Pids of running processes whose command line mentions `dir`. */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes(`${dir}/`)) pids.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

const dirs: string[] = [];
function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vic-kubelet-cluster-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) {
    await run(['down', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('scripts/cluster.sh', () => {
  it.each([[[]], [['start']], [['up']], [['down']], [['up', 'a', 'b']], [['bin', 'x']]])(
    'prints one usage line and exits 2 for %j',
    async (args) => {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('usage: scripts/cluster.sh up DIR | down DIR | bin\n');
    },
  );

  it('refuses a directory that holds something else', async () => {
    const dir = newDir();
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    const r = await run(['up', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not empty');
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('fails loudly when a component exits, and leaves nothing running', async () => {
    const dir = newDir();
    const r = await run(['up', dir], { CLUSTER_ARGS_KUBE_SCHEDULER: '--no-such-flag' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('kube-scheduler exited; last lines of');
    expect(r.stderr).toContain('Error: unknown flag: --no-such-flag');
    expectLogTail(r.stderr, join(dir, 'logs', 'kube-scheduler.log'));
    expect(processesUsing(dir)).toEqual([]);
    expect(readdirSync(join(dir, 'run')).filter((f) => f.endsWith('.pid'))).toEqual([]);
  });

  it('fails loudly when a component is not healthy in time, and leaves nothing running', async () => {
    const dir = newDir();
    // The apiserver serves on another port than the one `up` checks, so it never looks ready.
    const port = await freePort();
    const r = await run(['up', dir], {
      CLUSTER_READY_TIMEOUT: '5',
      CLUSTER_ARGS_KUBE_APISERVER: `--secure-port=${port}`,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('kube-apiserver was not healthy after 5s; last lines of');
    expectLogTail(r.stderr, join(dir, 'logs', 'kube-apiserver.log'));
    expect(processesUsing(dir)).toEqual([]);
    expect(readdirSync(join(dir, 'run')).filter((f) => f.endsWith('.pid'))).toEqual([]);
  });

  it('runs a second control plane beside the first, and down stops only its own', async () => {
    const dir = newDir();
    const up = await run(['up', dir]);
    expect(up.code).toBe(0);
    expect(up.stdout).toBe(`export KUBECONFIG=${dir}/kubeconfig\n`);
    expect(processesUsing(dir)).toHaveLength(4);
    const second = { ...cluster, dir, kubeconfig: join(dir, 'kubeconfig') };
    expect(await kubectl(second, 'get', '--raw', '/readyz')).toBe('ok');

    const down = await run(['down', dir]);
    expect(down.code).toBe(0);
    expect(processesUsing(dir)).toEqual([]);
    expect(processesUsing(cluster.dir)).toHaveLength(4);
    expect(await kubectl(cluster, 'get', '--raw', '/readyz')).toBe('ok');
  });
});
