// Errors of the VCH core: VchError over the project's kinds (src/errdefs.ts), which the API edges
// (persona, portlayer) map to a status once, in http-edge.ts; errors from image/ and runtime/
// carry the same kinds and pass through.
import { ClassifiedError, type ErrorKind } from '../errdefs.js';

export { errorKind } from '../errdefs.js';

export class VchError extends ClassifiedError {
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
  }
  override name = 'VchError';
}

export const notFound = (message: string) => new VchError('NotFound', message);
export const invalidInput = (message: string) => new VchError('InvalidInput', message);
export const conflict = (message: string) => new VchError('Conflict', message);
export const unavailable = (message: string) => new VchError('Unavailable', message);
