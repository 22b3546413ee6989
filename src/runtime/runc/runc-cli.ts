// Debian's runc, driven through its command line. Every call names our own --root, so the
// VCH's containers are apart from anything else on the host that uses runc.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecIo } from '../core/exec.js';
import { RuntimeError, unavailable } from '../errors.js';
import { commandError, runCommand, type FileToOpen } from '../../spawn/run-command.js';

export interface RuncState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
}

export interface RunOptions {
  id: string;
  bundle: string;
  pidFile: string;
  /** runc's and the container's stdout/stderr before the tether has the log: a file. */
  consoleLog: string;
  /** Files opened for the container as fds 3, 4, … (the log, the status file). */
  files?: FileToOpen[];
}

export class Runc {
  constructor(
    readonly binary: string,
    readonly root: string,
  ) {}

  /** Runs a runc subcommand to completion; rejects with runc's own message on failure. */
  async run(args: string[], timeoutMs = 30_000): Promise<string> {
    const o = await runCommand(this.binary, ['--root', this.root, ...args], {
      timeoutMs,
      maxBuffer: 16 << 20,
    });
    if (o.code === 0 && !o.failed && !o.overflow) return o.stdout;
    if (o.failed?.code === 'ENOENT') throw unavailable(`runc not found at ${this.binary}`);
    throw new RuncError(args[0], lastLine(o.stderr) || commandError(this.binary, args, o).message);
  }

  /**
   * `runc delete --force`, errors ignored, and only when runc has a record of `id` (its
   * directory under --root): most calls come before a create or after an earlier delete, and
   * each spawn costs the VCH's event loop a fork of the whole process.
   */
  async forget(id: string): Promise<void> {
    if (!existsSync(join(this.root, id))) return;
    await this.run(['delete', '--force', id]).catch(() => undefined);
  }

  async state(id: string): Promise<RuncState | undefined> {
    try {
      return JSON.parse(await this.run(['state', id])) as RuncState;
    } catch (e) {
      if (e instanceof RuncError && /does not exist|not exist/i.test(e.message)) return undefined;
      throw e;
    }
  }

  /**
   * `runc run --detach`: the container's init is set up and started in one call (create and
   * start were two spawns per container). runc runs in a session of its own, so the container
   * is in neither the VCH's session nor its process group: killing the VCH (or its group)
   * leaves it running. The init may have run and exited by the time this resolves.
   */
  async runDetached(o: RunOptions): Promise<void> {
    const logStart = await stat(o.consoleLog).then(
      (s) => s.size,
      () => 0,
    );
    const files = o.files ?? [];
    const out = await runCommand(
      this.binary,
      [
        '--root',
        this.root,
        'run',
        '--detach',
        '--bundle',
        o.bundle,
        '--pid-file',
        o.pidFile,
        '--preserve-fds',
        String(files.length),
        o.id,
      ],
      { detached: true, output: o.consoleLog, files, timeoutMs: 60_000 },
    );
    if (out.code === 0 && !out.failed) return;
    if (out.failed?.code === 'ENOENT') throw unavailable(`runc not found at ${this.binary}`);
    if (out.failed) throw unavailable(`runc run ${o.id}: ${out.failed.message}`);
    let text = '';
    try {
      text = readFileSync(o.consoleLog, 'utf8').slice(logStart);
    } catch {}
    throw new RuncError('run', lastLine(text) || `exit ${out.code ?? out.signal}`);
  }
}

export interface ExecRun {
  id: string;
  /** The process.json of the exec (oci-config.ts execProcessConfig). */
  processFile: string;
  /** Where runc writes the exec'd process's host pid: how a kill reaches it (not runc). */
  pidFile: string;
  io: ExecIo;
}

/** How long output may still come once runc exec has exited (an orphan may hold the pipes). */
const EXEC_DRAIN_MS = 200;

/**
 * `runc exec`: the process gets the pipes themselves (no terminal), so its output does not pass
 * through runc. Resolves with runc's exit code (the process's, 128+N for a signal), or, when the
 * process could not be started (runc: 255 with no pid written), 127/126 as a shell would.
 */
export function runcExec(runc: Runc, o: ExecRun): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      runc.binary,
      ['--root', runc.root, 'exec', '--process', o.processFile, '--pid-file', o.pidFile, o.id],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let errTail = '';
    child.stdout.on('data', (b: Buffer) => o.io.stdout(b));
    child.stderr.on('data', (b: Buffer) => {
      errTail = (errTail + b.toString('utf8')).slice(-4096);
      o.io.stderr(b);
    });
    let exited = false;
    let poll: NodeJS.Timeout | undefined;
    const kill = () => {
      // The process, not runc: runc cannot pass a SIGKILL on. Until runc has written its pid,
      // look again.
      if (exited) return;
      const pid = readPidFile(o.pidFile);
      if (!pid) {
        poll = setTimeout(kill, 10);
        return;
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already (it ended as its time ran out): nothing to kill.
      }
    };
    o.io.kill.addEventListener('abort', kill, { once: true });
    child.on('error', (err) => {
      o.io.kill.removeEventListener('abort', kill);
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? unavailable(`runc not found at ${runc.binary}`)
          : err,
      );
    });
    child.on('exit', (code, signal) => {
      exited = true;
      clearTimeout(poll);
      o.io.kill.removeEventListener('abort', kill);
      const started = readPidFile(o.pidFile) !== undefined;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        child.stdout.destroy();
        child.stderr.destroy();
        if (code === 255 && !started)
          return resolve(/not found|no such file/i.test(errTail) ? 127 : 126);
        if (code === null) return reject(new RuncError('exec', `killed by ${signal}`));
        resolve(code);
      };
      const drain = setTimeout(finish, EXEC_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drain);
        finish();
      });
    });
  });
}

export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** runc failed: its message, which names the real cause (a bad mount, a missing binary). */
export class RuncError extends RuntimeError {
  constructor(command: string, message: string) {
    super('Unavailable', `runc ${command}: ${message}`);
  }
  override name = 'RuncError';
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  let line = lines.at(-1) ?? '';
  // runc logs as logfmt: msg="…"; the message is what a user needs.
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
  if (msg) line = msg[1].replace(/\\"/g, '"');
  return line;
}
