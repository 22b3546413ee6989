// Errors of the virtual kubelet and of the providers it drives. Each carries a `kind` that the
// controllers act on (NotFound: create it / it is gone; InvalidInput: do not retry; the rest:
// retry with backoff) and that the kubelet API maps to an HTTP status once, at its edge.

export type ErrorKind = 'NotFound' | 'InvalidInput' | 'Conflict' | 'Unavailable' | 'NotImplemented';

export class NodeError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `${kind}Error`;
  }
}

export const notFound = (message: string) => new NodeError('NotFound', message);
export const invalidInput = (message: string) => new NodeError('InvalidInput', message);
export const notImplemented = (message: string) => new NodeError('NotImplemented', message);

/** The kind of any error: ours, iolog's (same `kind` field), or undefined for the unknown. */
export function errorKind(err: unknown): string | undefined {
  const kind = (err as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

export const isNotFound = (err: unknown) => errorKind(err) === 'NotFound';

/** One line for a log or an Event: the message, never a stack. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
