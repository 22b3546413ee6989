// How the CLI reports failure: one line on stderr, never a stack trace. Errors the user can fix
// (bad arguments, a missing file) exit with status 2; anything else with 1.

/** A mistake in how the command was called. */
export class UsageError extends Error {
  readonly kind = 'InvalidInput';
}

const USER_ERROR_KINDS = new Set(['InvalidInput', 'NotFound']);

let reported = false;

/** Reports the first failure (one error can surface on several paths, say a stream and its writer). */
export function fail(err: Error): void {
  if (reported) return;
  reported = true;
  const kind = (err as { kind?: string }).kind;
  process.stderr.write(`vic-kubelet: ${err.message}\n`);
  process.exitCode = kind !== undefined && USER_ERROR_KINDS.has(kind) ? 2 : 1;
}
