// Errors of the VCH core. Each carries a `kind` that the API edges (persona, portlayer) map to
// a status once; errors from image/ and runtime/ already carry the same kinds and pass through.

export type VchErrorKind = 'NotFound' | 'InvalidInput' | 'Conflict' | 'Unavailable';

export class VchError extends Error {
  constructor(
    readonly kind: VchErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  override name = 'VchError';
}

export const notFound = (message: string) => new VchError('NotFound', message);
export const invalidInput = (message: string) => new VchError('InvalidInput', message);
export const conflict = (message: string) => new VchError('Conflict', message);
export const unavailable = (message: string) => new VchError('Unavailable', message);

/** The kind of any error: ours, image/'s, runtime/'s, iolog/'s; undefined for a plain bug. */
export function errorKind(err: unknown): VchErrorKind | undefined {
  const kind = (err as { kind?: unknown } | null)?.kind;
  return kind === 'NotFound' ||
    kind === 'InvalidInput' ||
    kind === 'Conflict' ||
    kind === 'Unavailable'
    ? kind
    : undefined;
}
