// Content digests (`sha256:<64 hex>`), the names of everything in the content store.
import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.js';

/** A validated digest string, `sha256:` and 64 lowercase hex digits. */
export type Digest = `sha256:${string}`;

const digestPattern = /^sha256:[0-9a-f]{64}$/;
// Anything shaped like `algorithm:encoded` per the OCI spec, to tell "unsupported" from "garbage".
const anyDigestPattern = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(s: string): s is Digest {
  return digestPattern.test(s);
}

/** Checks `s` is a sha256 digest; `what` names it in the error ("manifest digest"). */
export function parseDigest(s: unknown, what = 'digest'): Digest {
  if (typeof s === 'string' && isDigest(s)) return s;
  if (typeof s === 'string' && anyDigestPattern.test(s) && !s.startsWith('sha256:'))
    throw new InvalidInputError(`unsupported ${what} algorithm: ${JSON.stringify(s)}`);
  throw new InvalidInputError(`invalid ${what}: ${JSON.stringify(s)}`);
}

/** The hex part of a digest: the blob's file name. */
export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

export function sha256Of(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * The OCI ChainID of a stack of layers given their DiffIDs (digests of the uncompressed
 * tars), bottom first: ChainID(L0) = DiffID(L0), ChainID(L0..n) = sha256(ChainID(L0..n-1) +
 * " " + DiffID(Ln)). It names the snapshot that holds exactly those layers applied in order.
 */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : sha256Of(`${prev} ${d}`));
  }
  return out;
}
