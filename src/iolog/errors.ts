// Errors of the iolog package: its own names over the project's kinds (src/errdefs.ts, the one
// module of ours iolog/ imports), so the API edges classify them like any other.
import { ClassifiedError } from '../errdefs.js';

/** What the caller asked for is malformed (a bad time, a negative tail…). */
export class InvalidInputError extends ClassifiedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidInput', message, options);
  }
  override name = 'InvalidInputError';
}

/** The log file does not exist. */
export class NotFoundError extends ClassifiedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NotFound', message, options);
  }
  override name = 'NotFoundError';
}
