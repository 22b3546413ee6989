// Running an exec in a pod VM: the agent's exec request (tether/protocol.h), and its answer on
// the control channel: execout lines with the output, one execexit line at the end.
import { randomBytes } from 'node:crypto';
import { invalidInput, unavailable } from '../errors.js';
import type { ExecIo, ExecProcess } from '../core/exec.js';
import { encodeLine, MAX_LINE } from '../core/protocol.js';
import type { AgentMessage, ControlChannel } from './control.js';

/** How long the agent has to answer a kill with the exec's exit. */
const KILL_ANSWER_MS = 10_000;

/** The exec request's tokens. */
export function execRequest(id: string, execId: string, p: ExecProcess): (string | number)[] {
  return [
    'exec',
    id,
    execId,
    p.user.uid,
    p.user.gid,
    p.user.additionalGids.join(','),
    p.cwd,
    p.args.length,
    ...p.args,
    p.env.length,
    ...p.env,
  ];
}

/**
 * Sends the exec request and resolves with the exec's exit code once the agent says it is over
 * (126/127 with the reason on stderr when it could not run). io.kill sends the agent SIGKILL
 * for it; if the agent does not answer that within KILL_ANSWER_MS, Unavailable.
 */
export function requestExec(
  control: ControlChannel,
  id: string,
  proc: ExecProcess,
  io: ExecIo,
  /** Names the other end in errors: the runc tether speaks this protocol too. */
  peer = { name: `exec in ${id}`, is: 'its pod VM' },
): Promise<number> {
  const execId = randomBytes(8).toString('hex');
  const request = execRequest(id, execId, proc);
  if (encodeLine(request).length > MAX_LINE)
    return Promise.reject(invalidInput('exec: arguments and environment too long'));
  return new Promise((resolve, reject) => {
    let killTimer: NodeJS.Timeout | undefined;
    const onMsg = (m: AgentMessage) => {
      if ((m.type !== 'execout' && m.type !== 'execexit') || m.id !== id || m.execId !== execId)
        return;
      if (m.type === 'execout') return io[m.stream](m.data);
      if (m.error) io.stderr(Buffer.from(`${m.error}\n`));
      finish(undefined, m.exitCode);
    };
    const onClose = () => finish(unavailable(`${peer.name}: ${peer.is} went away`));
    const kill = () => {
      try {
        control.send(['execsignal', id, execId, 9]);
      } catch {
        // closed: onClose says so
      }
      killTimer = setTimeout(
        () => finish(unavailable(`${peer.name}: ${peer.is} did not end it`)),
        KILL_ANSWER_MS,
      );
    };
    const finish = (err?: Error, code?: number) => {
      clearTimeout(killTimer);
      control.off('message', onMsg);
      control.off('close', onClose);
      io.kill.removeEventListener('abort', kill);
      if (err) reject(err);
      else resolve(code!);
    };
    control.on('message', onMsg);
    control.on('close', onClose);
    io.kill.addEventListener('abort', kill, { once: true });
    try {
      control.send(request);
    } catch (e) {
      finish(e as Error);
    }
  });
}
