// Errors of the VCH core: VchError over the project's kinds (src/errdefs.ts), which the API edges
// (persona, portlayer) map to a status once, in http-edge.ts; errors from image/ and runtime/
// carry the same kinds and pass through.
import { ClassifiedError, errorFactories } from '../errdefs.js';

export { errorKind } from '../errdefs.js';

export class VchError extends ClassifiedError {}

export const { notFound, invalidInput, conflict, unavailable } = errorFactories(VchError);
