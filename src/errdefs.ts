// The project's one error vocabulary: the kinds an error is classified by, the base class that
// carries a kind, and the one mapping between kinds and HTTP statuses that every API edge uses
// (the persona and portlayer through vch/http-edge.ts, the kubelet API, and the providers'
// HTTP client reading a VCH's answers back into kinds).
//
// This file is a leaf: it imports nothing, and it is the one file of ours that every room may
// import — iolog/ and image/ too, which otherwise import nothing of the project (as containerd's
// errdefs package is imported by all of containerd). Each room's errors.ts names its own errors
// over these kinds; none defines a kind or a status of its own.

/**
 * What went wrong, as the caller must act on it:
 * - NotFound: the thing named does not exist (create it, or it is gone);
 * - InvalidInput: the request is malformed or refused; retrying it unchanged will not help;
 * - Conflict: the request contradicts the current state (retry after the state changes);
 * - Unavailable: a part could not be reached or failed on its side; retry later;
 * - NotImplemented: this node or VCH does not do that (yet);
 * - Unauthorized: the caller did not prove who it is;
 * - Forbidden: the caller is known but not allowed.
 */
export type ErrorKind =
  | 'NotFound'
  | 'InvalidInput'
  | 'Conflict'
  | 'Unavailable'
  | 'NotImplemented'
  | 'Unauthorized'
  | 'Forbidden';

/** The HTTP status of each kind: the one place kinds become codes. */
const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  InvalidInput: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  NotImplemented: 501,
  Unavailable: 503,
};

export const ERROR_KINDS = Object.keys(STATUS_OF_KIND) as readonly ErrorKind[];

/**
 * Every error thrown on purpose: one clear line and a kind. A room names its own subclass
 * (RuntimeError, VchError…); its name is the subclass's.
 */
export class ClassifiedError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

type ErrorClass<E extends ClassifiedError> = new (
  kind: ErrorKind,
  message: string,
  options?: { cause?: unknown },
) => E;

/**
 * A subclass of `base` whose errors all have one kind, for a room that names its errors by
 * kind (`class NotFoundError extends kindError('NotFound') {}`), so callers can catch them
 * with instanceof while the edges classify them by kind.
 */
export function kindError(kind: ErrorKind, base: ErrorClass<ClassifiedError> = ClassifiedError) {
  return class extends base {
    constructor(message: string, options?: { cause?: unknown }) {
      super(kind, message, options);
    }
  };
}

/** One factory per kind for errors of class `cls`: `notFound('no such pod x')`. */
export function errorFactories<E extends ClassifiedError>(cls: ErrorClass<E>) {
  const make =
    (kind: ErrorKind) =>
    (message: string, cause?: unknown): E =>
      new cls(kind, message, cause === undefined ? undefined : { cause });
  return {
    notFound: make('NotFound'),
    invalidInput: make('InvalidInput'),
    conflict: make('Conflict'),
    unavailable: make('Unavailable'),
    notImplemented: make('NotImplemented'),
    unauthorized: make('Unauthorized'),
    forbidden: make('Forbidden'),
  };
}

export const {
  notFound,
  invalidInput,
  conflict,
  unavailable,
  notImplemented,
  unauthorized,
  forbidden,
} = errorFactories(ClassifiedError);

function isErrorKind(k: unknown): k is ErrorKind {
  return typeof k === 'string' && Object.hasOwn(STATUS_OF_KIND, k);
}

/**
 * The kind of any error: a ClassifiedError, or anything else with a known `kind` field;
 * undefined for the unclassified (a bug, a Node system error).
 */
export function errorKind(err: unknown): ErrorKind | undefined {
  const kind = (err as { kind?: unknown } | null | undefined)?.kind;
  return isErrorKind(kind) ? kind : undefined;
}

export const isKind = (err: unknown, kind: ErrorKind): boolean => errorKind(err) === kind;

/** One line for a log, an Event or an answer: the message, never a stack. */
/**
 * Text from input (a parser's message that quotes it) made safe for a one-line error: control
 * characters and line separators escaped, so a hostile document cannot add lines to an answer
 * or a log.
 */
export function escapeControls(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\u0000-\u001f\u007f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error that already knows its HTTP status (a 405 of a router, a 413 of a body limit). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The status an error answers with at an API edge: its kind's, 500 for the unclassified. */
export function httpStatusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  const kind = errorKind(err);
  return kind === undefined ? 500 : STATUS_OF_KIND[kind];
}

/**
 * The kind of an error status a server answered with: the mapping above read backwards, any
 * other 4xx is the request's fault (InvalidInput) and any other 5xx the server's (Unavailable).
 */
export function kindOfHttpStatus(status: number): ErrorKind {
  if (status === 422) return 'InvalidInput';
  const kind = ERROR_KINDS.find((k) => STATUS_OF_KIND[k] === status);
  return kind ?? (status >= 500 ? 'Unavailable' : 'InvalidInput');
}
