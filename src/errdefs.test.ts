import { describe, expect, it } from 'vitest';
import {
  ClassifiedError,
  ERROR_KINDS,
  errorKind,
  HttpError,
  httpStatusOf,
  isKind,
  kindOfHttpStatus,
  notFound,
} from './errdefs.js';
import { NotFoundError as ImageNotFound } from './image/errors.js';
import { InvalidInputError as IologInvalid } from './iolog/errors.js';
import { NodeError } from './node/errors.js';
import { RuntimeError } from './runtime/errors.js';
import { VchError } from './vch/errors.js';

describe('errdefs', () => {
  it('maps each kind to one status, and reads each status back to its kind', () => {
    const statuses = ERROR_KINDS.map((k) => httpStatusOf(new ClassifiedError(k, 'x')));
    expect(Object.fromEntries(ERROR_KINDS.map((k, i) => [k, statuses[i]]))).toEqual({
      InvalidInput: 400,
      Unauthorized: 401,
      Forbidden: 403,
      NotFound: 404,
      Conflict: 409,
      NotImplemented: 501,
      Unavailable: 503,
    });
    for (const k of ERROR_KINDS)
      expect(kindOfHttpStatus(httpStatusOf(new ClassifiedError(k, 'x')))).toBe(k);
  });

  it('answers 500 for the unclassified and honours an explicit status', () => {
    expect(httpStatusOf(new Error('bug'))).toBe(500);
    expect(httpStatusOf({ kind: 'Nonsense' })).toBe(500);
    expect(httpStatusOf(new HttpError(413, 'too large'))).toBe(413);
  });

  it('reads a peer’s other statuses: 4xx are the request’s fault, 5xx the server’s', () => {
    expect(kindOfHttpStatus(422)).toBe('InvalidInput');
    expect(kindOfHttpStatus(405)).toBe('InvalidInput');
    expect(kindOfHttpStatus(500)).toBe('Unavailable');
    expect(kindOfHttpStatus(502)).toBe('Unavailable');
  });

  it('classifies every room’s errors by the same kinds', () => {
    const errors = [
      new ImageNotFound('a'),
      new IologInvalid('b'),
      new NodeError('Conflict', 'c'),
      new RuntimeError('Unavailable', 'd'),
      new VchError('NotFound', 'e'),
    ];
    expect(errors.map(errorKind)).toEqual([
      'NotFound',
      'InvalidInput',
      'Conflict',
      'Unavailable',
      'NotFound',
    ]);
    for (const e of errors) expect(e).toBeInstanceOf(ClassifiedError);
    expect(isKind(notFound('x'), 'NotFound')).toBe(true);
    expect(errorKind(null)).toBeUndefined();
  });
});
