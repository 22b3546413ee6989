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

/**
 * A container's configuration could not be made from what it references (a ConfigMap or Secret
 * that is missing, a key not in it, an API server that cannot be read): the kubelet's
 * CreateContainerConfigError. Not permanent: the pod stays Pending and creation is tried again
 * until the object exists.
 */
export class ContainerConfigError extends NodeError {
  constructor(
    readonly container: string,
    message: string,
    kind: ErrorKind = 'NotFound',
  ) {
    super(kind, message);
  }
}

/** A volume's content could not be made (the kubelet's FailedMount on the pod). */
export class VolumeMountError extends ContainerConfigError {}
