// Errors of the iolog package: its own names over the project's kinds (src/errdefs.ts, the one
// module of ours iolog/ imports), so the API edges classify them like any other.
import { kindError } from '../errdefs.js';

/** What the caller asked for is malformed (a bad time, a negative tail…). */
export class InvalidInputError extends kindError('InvalidInput') {}

/** The log file does not exist. */
export class NotFoundError extends kindError('NotFound') {}
