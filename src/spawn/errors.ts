// Errors of running commands, over the project's kinds (src/errdefs.ts): a command that could
// not be run, or that failed, is Unavailable (a part of the host failed); callers that know
// better (runc's "does not exist") classify its message themselves.
import { ClassifiedError, errorFactories } from '../errdefs.js';

export class SpawnError extends ClassifiedError {}

export const { unavailable } = errorFactories(SpawnError);

/**
 * A command that ran and failed, or could not start: execFile's error, classified. `code` is
 * errno's code when it could not start (ENOENT: not installed), else the exit code.
 */
export class CommandError extends SpawnError {
  constructor(
    message: string,
    readonly code: string | number | null,
    readonly signal: string | null,
    readonly stdout: string,
    readonly stderr: string,
    readonly killed = false,
  ) {
    super('Unavailable', message);
  }
}
