// Errors of the image package: its own names over the project's kinds (src/errdefs.ts, the one
// module of ours image/ imports), so the API edges (Docker persona, portlayer, kubelet) classify
// them like any other.
import { ClassifiedError, type ErrorKind } from '../errdefs.js';

/** Base of every error this package throws on purpose: one clear line and a kind. */
export class ImageError extends ClassifiedError {
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
  }
  override name = 'ImageError';
}

/** A reference, manifest, blob or image that does not exist (here or at the registry). */
export class NotFoundError extends ImageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NotFound', message, options);
  }
  override name = 'NotFoundError';
}

/**
 * Input that is malformed or refused: a bad reference, an unsupported media type, content
 * whose digest does not match, a layer that tries to escape its rootfs, bad credentials.
 */
export class InvalidInputError extends ImageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidInput', message, options);
  }
  override name = 'InvalidInputError';
}

/** The request contradicts the state (e.g. removing an image a snapshot is being built from). */
export class ConflictError extends ImageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Conflict', message, options);
  }
  override name = 'ConflictError';
}

/** The registry could not be reached or failed on its side (network error, 5xx); retry later. */
export class UnavailableError extends ImageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Unavailable', message, options);
  }
  override name = 'UnavailableError';
}
