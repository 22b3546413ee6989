// Errors of the image package: its own names over the project's kinds (src/errdefs.ts, the one
// module of ours image/ imports), so the API edges (Docker persona, portlayer, kubelet) classify
// them like any other.
import { ClassifiedError, kindError } from '../errdefs.js';

/** Base of every error this package throws on purpose: one clear line and a kind. */
export class ImageError extends ClassifiedError {}

/** A reference, manifest, blob or image that does not exist (here or at the registry). */
export class NotFoundError extends kindError('NotFound', ImageError) {}

/**
 * Input that is malformed or refused: a bad reference, an unsupported media type, content
 * whose digest does not match, a layer that tries to escape its rootfs, bad credentials.
 */
export class InvalidInputError extends kindError('InvalidInput', ImageError) {}

/** The request contradicts the state (e.g. removing an image a snapshot is being built from). */
export class ConflictError extends kindError('Conflict', ImageError) {}

/** The registry could not be reached or failed on its side (network error, 5xx); retry later. */
export class UnavailableError extends kindError('Unavailable', ImageError) {}
