// Errors of the iolog package. iolog imports nothing of the project, so instead of the
// project's error classes each carries a `kind` that the API edges classify by.

/** What the caller asked for is malformed (a bad time, a negative tail…). */
export class InvalidInputError extends Error {
  readonly kind = 'InvalidInput';
  override name = 'InvalidInputError';
}

/** The log file does not exist. */
export class NotFoundError extends Error {
  readonly kind = 'NotFound';
  override name = 'NotFoundError';
}
