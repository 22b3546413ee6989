// Just enough of a Docker image reference for the persona's pull and the pull secrets:
// `[registry/]repo[:tag][@digest]` split into what `POST /images/create` takes, and the
// registry host a pull secret must name.
import { NodeError } from '../../../node/errors.js';

export interface SplitReference {
  /** fromImage: everything but the tag or digest. */
  repository: string;
  /** tag: a tag, or a digest ("sha256:…"); "latest" when the reference has neither. */
  tag: string;
  /** The registry host (with port): "docker.io" when the reference names none. */
  registry: string;
}

// Lowercase path components, an optional host[:port] first; a tag; a digest.
const REFERENCE =
  /^((?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@([a-z0-9]+:[a-f0-9]{32,}))?$/;

export function splitReference(image: string): SplitReference {
  const m = REFERENCE.exec(image);
  if (!m) throw new NodeError('InvalidInput', `invalid image reference ${JSON.stringify(image)}`);
  const [, repository, tag, digest] = m;
  const first = repository.split('/')[0];
  const hasHost =
    repository.includes('/') &&
    (first.includes('.') || first.includes(':') || first === 'localhost');
  return {
    repository,
    tag: digest ?? tag ?? 'latest',
    registry: hasHost ? first : 'docker.io',
  };
}
