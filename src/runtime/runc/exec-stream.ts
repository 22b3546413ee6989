// `runc exec` with streams: kubectl exec -i/-t, docker exec. Without a terminal the process gets
// our pipes themselves (runc passes its stdio on), so input and output never pass through
// runc. With one, runc hands the pty master to a --console-socket, which the tether's
// console-relay mode receives (Node cannot take an SCM_RIGHTS fd) and relays over pipes, with
// resizes on its fd 3 (tether/console-relay.c). The exec'd process's pid (--pid-file) is how a
// kill reaches it: runc cannot pass SIGKILL on.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable, type Writable } from 'node:stream';
import { unavailable } from '../errors.js';
import type { ExecStream, TerminalSize } from '../runtime.js';
import { readPidFile, type Runc } from './runc-cli.js';

export interface ExecStreamRun {
  id: string;
  processFile: string;
  pidFile: string;
  stdin: boolean;
  /** With a terminal: the tether binary that relays it. */
  tty?: { tether: string; size?: TerminalSize };
  /** Called once the process has ended (its files may go). */
  onExit(): void;
}

/** The last bytes of runc's stderr kept to tell why an exec could not start. */
const ERR_TAIL = 4096;

export async function runcExecStream(runc: Runc, o: ExecStreamRun): Promise<ExecStream> {
  const runcArgs = ['--root', runc.root, 'exec', '--process', o.processFile];
  runcArgs.push('--pid-file', o.pidFile);
  let child: ChildProcess;
  let socketDir: string | undefined;
  if (o.tty) {
    // A private (0700) directory: only we (and runc, root) can reach the console socket.
    // Short, as a socket path must be (108 bytes); the state dir may be deep.
    socketDir = await mkdtemp(join(tmpdir(), 'vic-tty-'));
    const socket = join(socketDir, 's');
    child = spawn(
      o.tty.tether,
      [
        ...['--console-relay', socket, o.pidFile, '--', runc.binary, ...runcArgs],
        ...['--tty', '--detach', '--console-socket', socket, o.id],
      ],
      { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] },
    );
  } else {
    child = spawn(runc.binary, [...runcArgs, o.id], {
      stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
  }
  const resizeTo = child.stdio[3] as Writable | null;
  resizeTo?.on('error', () => undefined);
  child.stdin?.on('error', () => undefined); // EPIPE once the process is gone: its input is moot
  const resize = (size: TerminalSize) => {
    if (resizeTo && !resizeTo.destroyed) resizeTo.write(`${size.width} ${size.height}\n`);
  };
  if (o.tty?.size) resize(o.tty.size);

  // runc's errors. Without a tty they share the process's stderr pipe (a tap keeps their tail
  // to tell 127 from 126 when the process never started); with one, the relay's stderr is only
  // runc's, and it goes out at the end of the terminal's output so the user sees why.
  let errTail = '';
  const keepTail = (b: Buffer) => {
    errTail = (errTail + b.toString('latin1')).slice(-ERR_TAIL);
  };
  let stdout: Readable = child.stdout!;
  let stderr: Readable | undefined;
  if (o.tty) {
    child.stderr!.on('data', keepTail);
    const out = new PassThrough();
    child.stdout!.pipe(out, { end: false });
    stdout = out;
  } else {
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        keepTail(chunk);
        done(null, chunk);
      },
    });
    stderr = child.stderr!.pipe(tap);
  }

  let exited = false;
  let killPoll: NodeJS.Timeout | undefined;
  const kill = () => {
    if (exited) return;
    const pid = readPidFile(o.pidFile);
    if (!pid) {
      // runc has not written it yet; look again.
      killPoll = setTimeout(kill, 10);
      return;
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  };

  const exit = new Promise<number>((resolve, reject) => {
    child.on('error', (err) => {
      exited = true;
      if (stdout !== child.stdout) stdout.destroy();
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? unavailable(`${o.tty ? o.tty.tether : runc.binary} not found`)
          : err,
      );
    });
    child.on('exit', (code, signal) => {
      exited = true;
      clearTimeout(killPoll);
      const started = readPidFile(o.pidFile) !== undefined;
      resizeTo?.destroy();
      if (socketDir) void rm(socketDir, { recursive: true, force: true });
      o.onExit();
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        if (stdout !== child.stdout) {
          if (!started && errTail) (stdout as PassThrough).write(errTail);
          (stdout as PassThrough).end();
        }
        if (code === 255 && !started)
          return resolve(/not found|no such file/i.test(errTail) ? 127 : 126);
        resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15));
      };
      // With a tty: after the relay's last output (and its stderr: the relay has exited).
      // Without: once runc's last words are through the tap (small; nobody need read them).
      const last = o.tty ? child.stdout! : child.stderr!;
      if (last.readableEnded) return settle();
      last.once('end', settle);
      last.once('close', settle);
      if (!o.tty) setTimeout(settle, 200);
    });
  });
  return {
    ...(child.stdin && { stdin: child.stdin }),
    stdout,
    ...(stderr && { stderr }),
    resize,
    kill,
    exit,
  };
}
