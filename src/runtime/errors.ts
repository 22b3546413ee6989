// Errors of the runtime: RuntimeError over the project's kinds (src/errdefs.ts); runtime.ts says
// which operation throws which. The API edges (Docker persona, portlayer, kubelet) classify them.
import { ClassifiedError, type ErrorKind } from '../errdefs.js';

/** Every error the runtime throws on purpose: one clear line and a kind. */
export class RuntimeError extends ClassifiedError {
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
  }
  override name = 'RuntimeError';
}

export const notFound = (what: string): RuntimeError => new RuntimeError('NotFound', what);
export const invalidInput = (what: string): RuntimeError => new RuntimeError('InvalidInput', what);
export const conflict = (what: string): RuntimeError => new RuntimeError('Conflict', what);
export const unavailable = (what: string, cause?: unknown): RuntimeError =>
  new RuntimeError('Unavailable', what, { cause });

export function isRuntimeError(e: unknown, kind?: ErrorKind): e is RuntimeError {
  return e instanceof RuntimeError && (kind === undefined || e.kind === kind);
}
