// Errors of the virtual kubelet and of the providers it drives: NodeError over the project's
// kinds (src/errdefs.ts). The controllers act on the kind (NotFound: create it / it is gone;
// InvalidInput: do not retry; the rest: retry with backoff) and the kubelet API maps it to an
// HTTP status with errdefs' one mapping, at its edge.
import { ClassifiedError, errorFactories, errorKind, type ErrorKind } from '../errdefs.js';

export { type ErrorKind, errorKind, errorMessage } from '../errdefs.js';

export class NodeError extends ClassifiedError {
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
    this.name = `${kind}Error`;
  }
}

export const { notFound, invalidInput, notImplemented } = errorFactories(NodeError);

/**
 * A pod this node rejects at admission, as the kubelet does (reason SysctlForbidden, ...): the
 * pod controller marks it Failed with `reason` and "Pod was rejected: <message>".
 */
export class AdmissionError extends NodeError {
  constructor(
    readonly reason: 'SysctlForbidden',
    message: string,
  ) {
    super('InvalidInput', message);
  }
}

export const isNotFound = (err: unknown) => errorKind(err) === 'NotFound';
