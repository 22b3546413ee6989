// Image references as `docker pull` takes them: [registry[:port]/]path[:tag][@digest],
// normalized the way Docker does (no registry → docker.io, a single path component on
// docker.io → library/…, neither tag nor digest → :latest).
import { type Digest, parseDigest } from './digest.js';
import { InvalidInputError } from './errors.js';

export interface ImageReference {
  /** Registry host as written, with port if any: `docker.io`, `127.0.0.1:5000`, `[::1]:5000`. */
  registry: string;
  /** Repository path inside the registry: `library/busybox`. */
  repository: string;
  /** The tag, unless the reference is by digest only. */
  tag?: string;
  /** The digest, when the reference names one. */
  digest?: Digest;
}

export const defaultRegistry = 'docker.io';
const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const domainComponent = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const maxNameLength = 255;

function invalid(ref: string, why: string): InvalidInputError {
  return new InvalidInputError(`invalid reference format: ${JSON.stringify(ref)}: ${why}`);
}

function validRegistry(host: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(host);
  if (!m) return false;
  if (m[2] !== undefined && Number(m[2]) > 65535) return false;
  if (m[1].startsWith('[')) return true;
  return m[1].split('.').every((c) => domainComponent.test(c));
}

/** Parses and normalizes a reference; throws InvalidInputError with a one-line reason. */
export function parseReference(input: string): ImageReference {
  const ref = input.trim();
  if (ref === '') throw invalid(input, 'empty');
  let rest = ref;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    try {
      digest = parseDigest(rest.slice(at + 1));
    } catch (e) {
      throw invalid(input, (e as Error).message);
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw invalid(input, `bad tag ${JSON.stringify(tag)}`);
  }
  let registry = defaultRegistry;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (slash >= 0 && (/[.:]/.test(first) || first === 'localhost')) {
    if (!validRegistry(first)) throw invalid(input, `bad registry host ${JSON.stringify(first)}`);
    registry = first;
    rest = rest.slice(slash + 1);
  }
  if (rest === '') throw invalid(input, 'missing repository name');
  if (rest !== rest.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
  if (!rest.split('/').every((c) => pathComponent.test(c)))
    throw invalid(input, `bad repository name ${JSON.stringify(rest)}`);
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io')
    registry = defaultRegistry;
  if (registry === defaultRegistry && !rest.includes('/')) rest = `library/${rest}`;
  if (registry.length + 1 + rest.length > maxNameLength)
    throw invalid(input, `name longer than ${maxNameLength} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return {
    registry,
    repository: rest,
    ...(tag !== undefined && { tag }),
    ...(digest && { digest }),
  };
}

/** `registry/repository`, the name images are listed under. */
export function repositoryName(r: ImageReference): string {
  return `${r.registry}/${r.repository}`;
}

/** The full normalized reference: `docker.io/library/busybox:latest`, `…@sha256:…`. */
export function formatReference(r: ImageReference): string {
  return `${repositoryName(r)}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
