// What an exec request asks for, from its path and query, as the kubelet reads them:
// `/exec/{namespace}/{pod}/{container}?command=a&command=b&input=1&output=1&error=1&tty=1`
// (core/v1's ExecStdinParam "input", ExecStdoutParam "output", ExecStderrParam "error": what
// the apiserver sends). `stdin`, `stdout` and `stderr` are taken too, for direct clients that
// use the ExecOptions field names. With a TTY there is no separate stderr, as on the kubelet.
import { HttpError } from '../../errdefs.js';

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** /attach: the container's own process, no command. */
  attach?: boolean;
}

/** The names of `/{head}/{namespace}/{pod}/{container}`, decoded; HttpError 400 otherwise. */
export function podContainerOf(parts: string[], head: string): [string, string, string] {
  if (parts.length !== 4 || parts.slice(1).some((p) => p === ''))
    throw new HttpError(400, `want /${head}/{namespace}/{pod}/{container}`);
  try {
    return parts.slice(1).map((p) => decodeURIComponent(p)) as [string, string, string];
  } catch {
    throw new HttpError(400, 'malformed escape in the path');
  }
}

// The apiserver sends "1"; direct clients often "true".
const flag = (q: URLSearchParams, ...names: string[]) =>
  names.some((n) => ['1', 'true'].includes(q.get(n) ?? ''));

export function parseExecRequest(parts: string[], query: URLSearchParams): ExecRequest {
  const attach = parts[0] === 'attach';
  const [namespace, pod, container] = podContainerOf(parts, attach ? 'attach' : 'exec');
  const command = query.getAll('command');
  if (attach && command.length > 0)
    throw new HttpError(400, "attach takes no command: it joins the container's own process");
  if (!attach && (command.length === 0 || command[0] === ''))
    throw new HttpError(400, 'exec needs a command (the `command` query parameter)');
  const tty = flag(query, 'tty');
  const stdin = flag(query, 'input', 'stdin');
  const stdout = flag(query, 'output', 'stdout');
  // With a TTY, stderr goes to the terminal too: the kubelet drops the separate stream.
  const stderr = flag(query, 'error', 'stderr') && !tty;
  if (!stdin && !stdout && !stderr)
    throw new HttpError(400, 'you must specify at least 1 of stdin, stdout, stderr');
  return {
    namespace,
    pod,
    container,
    command,
    stdin,
    stdout,
    stderr,
    tty,
    ...(attach && { attach }),
  };
}
