// Runs one command to completion in this process: the one place a CommandRequest becomes a
// child process. The spawn helper (helper-main.ts) runs it for the VCH; it is also the inline
// runner (run-command.ts, VIC_KUBELET_SPAWN=inline). execFile's semantics: timeout (SIGTERM),
// a cap on what stdout and stderr keep (the command is killed beyond it), exit code or signal.
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { bindListening, type ListeningSocket } from './listening-socket.js';
import type { CommandOutcome, CommandRequest } from './protocol.js';

/** execFile's default cap on each stream. */
export const DEFAULT_MAX_BUFFER = 1 << 20;

export async function execute(req: CommandRequest): Promise<CommandOutcome> {
  const opened: number[] = [];
  const sockets: ListeningSocket[] = [];
  const closeAll = () => {
    for (const fd of opened.splice(0)) closeSync(fd);
  };
  // Listening sockets: named once the command succeeded (it holds them), dropped otherwise.
  const settle = async (o: CommandOutcome): Promise<CommandOutcome> => {
    const ok = o.code === 0 && !o.failed;
    for (const s of sockets.splice(0)) await (ok ? s.keep() : s.drop()).catch(() => undefined);
    return o;
  };
  let stdio: StdioOptions;
  try {
    const out = req.output === undefined ? 'pipe' : open(opened, req.output, 'a');
    const extra: number[] = [];
    for (const f of req.files ?? []) {
      if ('listen' in f) {
        const s = await bindListening(f.path);
        sockets.push(s);
        extra.push(s.fd);
      } else extra.push(open(opened, f.path, f.flags, f.mode));
    }
    stdio = [req.input === undefined ? 'ignore' : 'pipe', out, out, ...extra];
  } catch (e) {
    closeAll();
    return settle(failure(e));
  }
  return settle(await run(req, stdio, closeAll));
}

function run(
  req: CommandRequest,
  stdio: StdioOptions,
  closeAll: () => void,
): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(req.file, req.args, {
        stdio,
        detached: req.detached === true,
        ...(req.cwd !== undefined && { cwd: req.cwd }),
        ...(req.env !== undefined && { env: req.env }),
      });
    } catch (e) {
      closeAll();
      return resolve(failure(e));
    }
    // The child has its own copies now.
    closeAll();
    const cap = req.maxBuffer ?? DEFAULT_MAX_BUFFER;
    const out = { stdout: new Capture(cap), stderr: new Capture(cap) };
    let overflow: 'stdout' | 'stderr' | undefined;
    let timedOut = false;
    let failed: CommandOutcome['failed'];
    for (const name of ['stdout', 'stderr'] as const) {
      child[name]?.on('data', (b: Buffer) => {
        if (out[name].push(b) || overflow) return;
        overflow = name;
        child.kill('SIGTERM');
      });
    }
    const timer =
      req.timeoutMs && req.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGTERM');
          }, req.timeoutMs)
        : undefined;
    child.stdin?.on('error', () => {}); // a command that does not read its input
    child.stdin?.end(req.input);
    let done = false;
    child.on('error', (e) => {
      failed = errnoOf(e);
      // It never started (ENOENT, EACCES…): no close may follow.
      if (child.pid === undefined && !done) {
        done = true;
        clearTimeout(timer);
        resolve(failure(e));
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (done) return;
      done = true;
      resolve({
        code,
        signal,
        stdout: out.stdout.text,
        stderr: out.stderr.text,
        ...(timedOut && { timedOut }),
        ...(overflow && { overflow }),
        ...(failed && { failed }),
      });
    });
  });
}

function open(opened: number[], path: string, flags: number | string, mode?: number): number {
  const fd = openSync(path, flags, mode);
  opened.push(fd);
  return fd;
}

function errnoOf(e: unknown): { code?: string; message: string } {
  const err = e as NodeJS.ErrnoException;
  return { ...(err.code && { code: err.code }), message: err.message ?? String(e) };
}

function failure(e: unknown): CommandOutcome {
  return { code: null, signal: null, stdout: '', stderr: '', failed: errnoOf(e) };
}

/** One stream's bytes up to a cap; push() says whether it stayed within it. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly cap: number) {}

  push(b: Buffer): boolean {
    const room = this.cap - this.size;
    if (room > 0) this.chunks.push(b.length > room ? b.subarray(0, room) : b);
    this.size += b.length;
    return this.size <= this.cap;
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
