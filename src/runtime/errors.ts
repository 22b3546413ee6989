// Errors of the runtime. Each carries a `kind` (runtime.ts says which operation throws which)
// that the API edges (Docker persona, portlayer, kubelet) classify by.

export type RuntimeErrorKind = 'NotFound' | 'InvalidInput' | 'Conflict' | 'Unavailable';

/** Every error the runtime throws on purpose: one clear line and a kind. */
export class RuntimeError extends Error {
  constructor(
    readonly kind: RuntimeErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  override name = 'RuntimeError';
}

export const notFound = (what: string): RuntimeError => new RuntimeError('NotFound', what);
export const invalidInput = (what: string): RuntimeError => new RuntimeError('InvalidInput', what);
export const conflict = (what: string): RuntimeError => new RuntimeError('Conflict', what);
export const unavailable = (what: string, cause?: unknown): RuntimeError =>
  new RuntimeError('Unavailable', what, { cause });

export function isRuntimeError(e: unknown, kind?: RuntimeErrorKind): e is RuntimeError {
  return e instanceof RuntimeError && (kind === undefined || e.kind === kind);
}
