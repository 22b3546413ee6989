// What both backends share of an exec: the checks of its spec, the process it runs (merged with
// the container's), and its output kept up to a cap. RuntimeBase.exec drives them; a backend only
// runs the process (runc exec; the pod VM's agent) and feeds its output in.
import { PassThrough } from 'node:stream';
import { invalidInput } from '../errors.js';
import { mergeEnv } from '../process-spec.js';
import {
  EXEC_OUTPUT_LIMIT,
  type ExecSpec,
  type ExecStream,
  type ProcessSpec,
  type TerminalSize,
} from '../runtime.js';
import type { ResolvedUser } from '../user.js';

/** The process an exec runs: its spec merged with the container's own. */
export interface ExecProcess {
  args: string[];
  /** The container's env, then the exec's (later wins by key), HOME from the user when unset. */
  env: string[];
  cwd: string;
  user: ResolvedUser;
}

/** How a backend hands an exec's output back, and learns it must kill the process. */
export interface ExecIo {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** Aborted when the process is to be killed (SIGKILL): a timeout, or the caller gave up. */
  kill: AbortSignal;
}

/** Throws InvalidInput for a spec that can never run. */
export function checkExecSpec(spec: ExecSpec): void {
  if (!Array.isArray(spec.args) || spec.args.length === 0 || !spec.args[0])
    throw invalidInput('exec: no command');
  if ([...spec.args, ...(spec.env ?? [])].some((s) => typeof s !== 'string' || s.includes('\0')))
    throw invalidInput('exec: arguments and environment must be strings without NUL bytes');
  if (spec.cwd !== undefined && !spec.cwd.startsWith('/'))
    throw invalidInput(`exec: working dir ${JSON.stringify(spec.cwd)} is not absolute`);
}

/** A terminal is at most 65535 characters either way (struct winsize); InvalidInput past it. */
export function checkTerminalSize(size: TerminalSize | undefined): void {
  if (size === undefined) return;
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffff;
  if (!ok(size.width) || !ok(size.height))
    throw invalidInput(`terminal size ${JSON.stringify(size)}: want whole numbers 0..65535`);
}

export function execProcess(
  container: ProcessSpec,
  spec: ExecSpec,
  user: ResolvedUser,
): ExecProcess {
  let env = mergeEnv(container.env, spec.env);
  if (!env.some((kv) => kv.startsWith('HOME='))) env = [...env, `HOME=${user.home}`];
  return { args: [...spec.args], env, cwd: spec.cwd ?? container.cwd, user };
}

/** The output limit an exec asked for, within (0, EXEC_OUTPUT_LIMIT]. */
export function outputLimit(asked: number | undefined): number {
  if (asked === undefined) return EXEC_OUTPUT_LIMIT;
  if (!Number.isInteger(asked) || asked <= 0)
    throw invalidInput(`exec: output limit ${asked} is not a positive integer`);
  return Math.min(asked, EXEC_OUTPUT_LIMIT);
}

/** One stream's output: the first `limit` bytes are kept, the rest counted and dropped. */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    const room = this.limit - this.kept;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const take = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(Buffer.from(take));
    this.kept += take.length;
  }

  get buffer(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }
}

/**
 * An ExecStream over a backend that pushes output (ExecIo) rather than handing out pipes: no
 * stdin, no terminal. Output is queued as it comes (the pod VM's agent paces it to the control
 * channel, not to the reader).
 */
export function pushedExecStream(run: (io: ExecIo) => Promise<number>): ExecStream {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const kill = new AbortController();
  const exit = run({
    stdout: (b) => void stdout.write(b),
    stderr: (b) => void stderr.write(b),
    kill: kill.signal,
  }).finally(() => {
    stdout.end();
    stderr.end();
  });
  return { stdout, stderr, resize: () => undefined, kill: () => kill.abort(), exit };
}
