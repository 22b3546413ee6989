// Credentials for a pull from a pod's imagePullSecrets: kubernetes.io/dockerconfigjson
// ({"auths": {server: {username, password, auth}}}) or the older kubernetes.io/dockercfg
// ({server: {…}}), matched on the image's registry host as the kubelet does (scheme and path of
// the server key ignored; docker.io's historical names are one registry).
import type * as k8s from '@kubernetes/client-node';
import type { RegistryCredentials } from './image-store.js';

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function hostOf(server: string): string {
  const host = server
    .replace(/^[a-z]+:\/\//i, '')
    .split('/')[0]
    .toLowerCase();
  return DOCKER_HUB.has(host) ? 'docker.io' : host;
}

interface AuthEntry {
  username?: string;
  password?: string;
  auth?: string;
}

function entries(secret: k8s.V1Secret): Record<string, AuthEntry> | undefined {
  const data = secret.data ?? {};
  try {
    if (secret.type === 'kubernetes.io/dockerconfigjson' && data['.dockerconfigjson'])
      return JSON.parse(Buffer.from(data['.dockerconfigjson'], 'base64').toString('utf8')).auths;
    if (secret.type === 'kubernetes.io/dockercfg' && data['.dockercfg'])
      return JSON.parse(Buffer.from(data['.dockercfg'], 'base64').toString('utf8'));
  } catch {
    // A malformed secret gives no credentials, as the kubelet skips it.
  }
  return undefined;
}

/** The first secret's credentials for `registry`, or undefined. */
export function credentialsFor(
  registry: string,
  secrets: k8s.V1Secret[],
): RegistryCredentials | undefined {
  const want = hostOf(registry);
  for (const secret of secrets) {
    for (const [server, e] of Object.entries(entries(secret) ?? {})) {
      if (hostOf(server) !== want || typeof e !== 'object' || e === null) continue;
      let { username, password } = e;
      if ((username === undefined || password === undefined) && typeof e.auth === 'string') {
        const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
      }
      if (typeof username === 'string' && typeof password === 'string')
        return { username, password, serveraddress: server };
    }
  }
  return undefined;
}
