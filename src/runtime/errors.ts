// Errors of the runtime: RuntimeError over the project's kinds (src/errdefs.ts); runtime.ts says
// which operation throws which. The API edges (Docker persona, portlayer, kubelet) classify them.
import { ClassifiedError, errorFactories, type ErrorKind } from '../errdefs.js';

/** Every error the runtime throws on purpose: one clear line and a kind. */
export class RuntimeError extends ClassifiedError {}

export const { notFound, invalidInput, conflict, unavailable, notImplemented } =
  errorFactories(RuntimeError);

export function isRuntimeError(e: unknown, kind?: ErrorKind): e is RuntimeError {
  return e instanceof RuntimeError && (kind === undefined || e.kind === kind);
}
