// Harness of the VCH tests: `vic-kubelet vch serve` started from the build as a child with a
// state directory and socket of its own, and the real docker CLI pointed at it
// (DOCKER_HOST=unix://…). Cleanup removes every container through the VCH, and falls back to
// runc and umount for whatever a dead VCH left behind.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const main = join(root, 'dist', 'cli', 'main.js');
export const DOCKER = '/usr/local/bin/docker';

/** Builds the project (tsc and the tether) when the VCH's daemon or the tether is missing. */
export function ensureBuilt(): void {
  if (
    existsSync(join(root, 'dist', 'vch', 'serve.js')) &&
    existsSync(join(root, 'dist', 'tether', 'tether'))
  )
    return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
}

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface VchProcess {
  stateDir: string;
  socket: string;
  child: ChildProcess;
  /** Everything the daemon wrote (JSON log lines). */
  output(): string;
  /** Resolves with the exit code (or signal) once the daemon has exited. */
  exited: Promise<number | NodeJS.Signals>;
  /** Runs the docker CLI against this VCH. */
  docker(
    args: string[],
    options?: { timeoutMs?: number; configDir?: string },
  ): Promise<DockerResult>;
}

/** Runs the docker CLI with DOCKER_HOST set to `socket`; never rejects. */
export function docker(
  socket: string,
  args: string[],
  options: { timeoutMs?: number; configDir?: string } = {},
): Promise<DockerResult> {
  return new Promise((resolve) => {
    execFile(
      DOCKER,
      args,
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
          DOCKER_HOST: `unix://${socket}`,
          ...(options.configDir && { DOCKER_CONFIG: options.configDir }),
        },
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Starts `vch serve` and resolves once its socket answers /_ping. */
export async function startVch(
  stateDir: string,
  socket: string,
  extra: string[] = [],
  /** An argv prefix the daemon runs under (`nsenter --net=…`: a namespace of the test's). */
  wrap: string[] = [],
): Promise<VchProcess> {
  const argv = [
    process.execPath,
    main,
    'vch',
    'serve',
    '--state-dir',
    stateDir,
    '--docker-host',
    `unix://${socket}`,
    // In the host's network namespace a test's pods keep to loopback (no bridge on the host);
    // the bridge is tested in a namespace of its own (vch-network.test.ts).
    ...(extra.includes('--bridge-network') || wrap.length > 0 ? [] : ['--bridge-network', 'none']),
    ...extra,
  ];
  const [cmd, ...args] = [...wrap, ...argv];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const vch: VchProcess = {
    stateDir,
    socket,
    child,
    output: () => out,
    exited,
    docker: (args, options) => docker(socket, args, options),
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`vch serve exited (${child.exitCode ?? child.signalCode}): ${out}`);
    const ping = await docker(socket, ['version', '--format', '{{.Server.Version}}'], {
      timeoutMs: 5000,
    });
    if (ping.code === 0) return vch;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`vch serve did not answer on ${socket}: ${out}${ping.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGTERM (or `signal`) and wait for the exit. */
export async function stopVch(
  vch: VchProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | NodeJS.Signals> {
  if (vch.child.exitCode === null && vch.child.signalCode === null) vch.child.kill(signal);
  const t = setTimeout(() => vch.child.kill('SIGKILL'), 15_000);
  const r = await vch.exited;
  clearTimeout(t);
  return r;
}

/**
 * Removes what the tests left: every container through a running VCH (`docker rm -f`), then
 * whatever runc still has under the state directory, then mounts under it, then the directory.
 */
export async function cleanupVch(stateDir: string, vch?: VchProcess): Promise<void> {
  if (vch && vch.child.exitCode === null && vch.child.signalCode === null) {
    const ids = (await vch.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await vch.docker(['rm', '-f', ...ids]);
    await stopVch(vch);
  }
  const runcRoot = join(stateDir, 'runtime', 'runc', 'runc');
  if (existsSync(runcRoot)) {
    const list = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' });
    for (const id of list.stdout.split('\n').filter(Boolean)) {
      spawnSync('runc', ['--root', runcRoot, 'kill', id, 'KILL']);
      spawnSync('runc', ['--root', runcRoot, 'delete', '-f', id]);
    }
  }
  // Pod VMs outlive their VCH (as runc pods do): each one's qemu by its pidfile, if that pid
  // is still the qemu of this sandbox (its command line names the sandbox's directory).
  const sandboxes = join(stateDir, 'runtime', 'vm', 'sandboxes');
  for (const id of existsSync(sandboxes) ? readdirSync(sandboxes) : []) {
    try {
      const pid = Number(readFileSync(join(sandboxes, id, 'qemu.pid'), 'utf8').trim());
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (pid > 1 && cmdline.includes(join(sandboxes, id))) process.kill(pid, 'SIGKILL');
    } catch {
      // no pidfile, or the VM is gone
    }
  }
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m) => m && m.startsWith(stateDir))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  rmSync(stateDir, { recursive: true, force: true, maxRetries: 3 });
}
