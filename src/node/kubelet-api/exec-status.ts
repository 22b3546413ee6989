// How an exec's end is told on its error stream, as the kubelet tells it: with protocol v4 and
// later a metav1.Status (Success; Failure with reason NonZeroExitCode and a cause of type
// ExitCode; Failure with the error's reason otherwise); before v4, nothing on success and the
// error's text on failure.
import { errorKind, type ErrorKind, errorMessage, httpStatusOf } from '../../errdefs.js';

export interface ExecStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes: { reason: string; message: string }[] };
}

const REASONS: Partial<Record<ErrorKind, string>> = {
  NotFound: 'NotFound',
  InvalidInput: 'BadRequest',
  Conflict: 'Conflict',
  Unavailable: 'ServiceUnavailable',
  Unauthorized: 'Unauthorized',
  Forbidden: 'Forbidden',
  NotImplemented: 'NotImplemented',
};

export function exitStatus(exitCode: number): ExecStatus {
  if (exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

export function errorStatus(err: unknown): ExecStatus {
  const kind = errorKind(err);
  return {
    metadata: {},
    status: 'Failure',
    message: errorMessage(err),
    reason: (kind && REASONS[kind]) ?? 'InternalError',
    code: httpStatusOf(err),
  };
}

/** The bytes for the error stream at protocol `version` (1–5); empty: write nothing. */
export function encodeStatus(status: ExecStatus, version: number): Buffer {
  if (version >= 4) return Buffer.from(JSON.stringify(status));
  return Buffer.from(status.status === 'Success' ? '' : (status.message ?? 'exec failed'));
}
