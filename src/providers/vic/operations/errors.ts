// Errors of pod creation that the status must attribute to one container (its waiting reason).
import { NodeError, type ErrorKind } from '../../../node/errors.js';

/** A container's image could not be pulled (ErrImagePull, then ImagePullBackOff). */
export class ImagePullError extends NodeError {
  constructor(
    readonly container: string,
    readonly image: string,
    message: string,
    kind: ErrorKind = 'Unavailable',
    /** ErrImageNeverPull: the policy forbids pulling and the image is not there. */
    readonly neverPull = false,
  ) {
    super(kind, message);
  }
}

/** A container could not be made on the VCH (CreateContainerError). */
export class ContainerCreateError extends NodeError {
  constructor(
    readonly container: string,
    kind: ErrorKind,
    message: string,
  ) {
    super(kind, message);
  }
}
