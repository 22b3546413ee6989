// A container's seccomp filter from its SecuritySpec: the default profile (RuntimeDefault, also
// when nothing is said), a Localhost profile's text, or none (Unconfined), resolved for the
// container's capabilities and the host's kernel.
import { release } from 'node:os';
import { containerCaps } from '../capabilities.js';
import { readTextCapped } from '../core/safe-read.js';
import { unavailable } from '../errors.js';
import type { SecuritySpec } from '../runtime.js';
import { MAX_PROFILE_BYTES, resolveProfile, type ResolvedProfile } from './profile.js';

/** Where Debian's golang-github-containers-common puts the default profile. */
export const DEFAULT_PROFILE_PATH = '/usr/share/containers/seccomp.json';

let defaultText: Promise<string> | undefined;

/** The default profile's text, read once (a failed read is tried again next time). */
function defaultProfile(): Promise<string> {
  defaultText ??= readTextCapped(DEFAULT_PROFILE_PATH, MAX_PROFILE_BYTES).then((text) => {
    if (text !== undefined) return text;
    defaultText = undefined;
    throw unavailable(
      `the default seccomp profile ${DEFAULT_PROFILE_PATH} is missing or unreadable: apt-get install golang-github-containers-common`,
    );
  });
  return defaultText;
}

/** The resolved profile, or undefined for Unconfined. InvalidInput for a bad Localhost one. */
export async function containerSeccomp(
  sec: SecuritySpec | undefined,
): Promise<ResolvedProfile | undefined> {
  const s = sec?.seccomp ?? { type: 'RuntimeDefault' };
  // As containerd: a privileged container runs without a filter, whatever its profile says.
  if (s.type === 'Unconfined' || sec?.privileged) return undefined;
  const text = s.type === 'Localhost' ? s.profile : await defaultProfile();
  return resolveProfile(text, {
    caps: containerCaps(sec),
    kernel: release(),
  });
}
