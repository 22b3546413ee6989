// An interactive exec in a pod VM (kubectl exec -i/-t, docker exec): the agent's execio request
// on the control channel (tether/protocol.h), the process's streams on a channel of the data
// port (data-mux.ts), its end as an execexit line. The exit is known once the agent has said
// execexit and the channel's output has all come (the two ports do not keep order between them).
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { invalidInput, unavailable } from '../errors.js';
import type { ExecProcess } from '../core/exec.js';
import { encodeLine, MAX_LINE } from '../core/protocol.js';
import type { ExecStream, ExecStreamOptions } from '../runtime.js';
import type { AgentMessage, ControlChannel, ExecExit } from './control.js';
import type { DataMux } from './data-mux.js';
import { execRequest } from './exec-request.js';

/** How long the agent has to answer a kill with the exec's exit. */
const KILL_ANSWER_MS = 10_000;

/** A terminal's size when the caller gave none (the kubelet sends one before input). */
const DEFAULT_SIZE = { width: 80, height: 24 };

/** The execio request's tokens. */
export function execioRequest(
  id: string,
  execId: string,
  proc: ExecProcess,
  chan: number,
  options: ExecStreamOptions,
): (string | number)[] {
  const flags = [options.stdin && 'stdin', options.tty && 'tty'].filter(Boolean).join(',');
  const size = options.size ?? DEFAULT_SIZE;
  const [, ...rest] = execRequest(id, execId, proc);
  return ['execio', ...rest, chan, flags, size.width, size.height];
}

export function requestExecStream(
  control: ControlChannel,
  mux: DataMux,
  id: string,
  proc: ExecProcess,
  options: ExecStreamOptions,
): ExecStream {
  const execId = randomBytes(8).toString('hex');
  const ch = mux.open();
  const request = execioRequest(id, execId, proc, ch.id, options);
  if (encodeLine(request).length > MAX_LINE) {
    ch.destroy();
    throw invalidInput('exec: arguments and environment too long');
  }
  const tty = options.tty === true;
  // The caller's ends: fed from the channel with its backpressure, ended once the exit is known
  // (a reason it could not run comes with the exit, after the output).
  const stdout = new PassThrough();
  const stderr = tty ? undefined : new PassThrough();
  ch.pipe(stdout, { end: false });
  ch.stderr.pipe(stderr ?? stdout, { end: false });
  const outputDone = Promise.all([
    finished(ch, { writable: false }).catch(() => undefined),
    finished(ch.stderr).catch(() => undefined),
  ]);

  let killTimer: NodeJS.Timeout | undefined;
  let noKillAnswer: () => void = () => undefined;
  const exited = new Promise<ExecExit>((resolve, reject) => {
    noKillAnswer = () => {
      done();
      reject(unavailable(`exec in ${id}: its pod VM did not end it`));
    };
    const onMsg = (m: AgentMessage) => {
      if (m.type !== 'execexit' || m.id !== id || m.execId !== execId) return;
      done();
      resolve(m);
    };
    const onClose = () => {
      done();
      reject(unavailable(`exec in ${id}: its pod VM went away`));
    };
    const done = () => {
      clearTimeout(killTimer);
      control.off('message', onMsg);
      control.off('close', onClose);
    };
    control.on('message', onMsg);
    control.on('close', onClose);
  });
  // (A kill the agent does not answer rejects at once: Promise.all does not wait for the rest.)
  const exit = Promise.all([exited, outputDone])
    .then(([m]) => {
      if (m.error) (stderr ?? stdout).write(`${m.error}${tty ? '\r\n' : '\n'}`);
      return m.exitCode;
    })
    .finally(() => {
      stdout.end();
      stderr?.end();
      // Input the process never read: the channel goes (the agent closes its end).
      if (!ch.destroyed) ch.destroy();
    });
  exit.catch(() => undefined); // the caller awaits it; nobody else must see it unhandled

  // Input: passed on as the channel's credit allows; after the process is gone, dropped (as
  // writes to a closed pipe would be: the caller learns the end from `exit`).
  const stdin = options.stdin
    ? new Writable({
        write: (chunk: Buffer, _e, cb) => {
          if (ch.destroyed || ch.writableEnded) return cb();
          ch.write(chunk, () => cb());
        },
        final: (cb) => {
          if (ch.destroyed || ch.writableEnded) return cb();
          ch.end(() => cb());
        },
      })
    : undefined;
  if (!options.stdin) ch.end(); // EOF: the agent's stdin is /dev/null

  let killed = false;
  const stream: ExecStream = {
    ...(stdin && { stdin }),
    stdout,
    ...(stderr && { stderr }),
    resize: (size) => {
      if (!tty) return;
      try {
        control.send(['execresize', id, execId, size.width, size.height]);
      } catch {
        // the VM is gone: exit says so
      }
    },
    kill: () => {
      if (killed) return;
      killed = true;
      try {
        control.send(['execsignal', id, execId, 9]);
      } catch {
        // the VM is gone: exit says so
      }
      killTimer = setTimeout(noKillAnswer, KILL_ANSWER_MS);
    },
    exit,
  };
  try {
    control.send(request);
  } catch (e) {
    ch.destroy();
    throw e;
  }
  return stream;
}
