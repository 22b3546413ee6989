// ImageStore over the persona's Docker Engine API: `POST /images/create` (the pull, credentials
// in X-Registry-Auth, progress as a stream of JSON messages, the last of which may be an error:
// the HTTP status is 200 by then) and `GET /images/{name}/json` (the config).
import { type ErrorKind, NodeError } from '../../../node/errors.js';
import { HttpClient, type Endpoint } from './http.js';
import type { ImageConfig, ImageStore, ImageSummary, RegistryCredentials } from './image-store.js';
import { splitReference } from './reference.js';

interface ProgressMessage {
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

interface DockerImageInspect {
  Id: string;
  Size?: number;
  Config?: {
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Env?: string[] | null;
    WorkingDir?: string;
    User?: string;
    StopSignal?: string;
  } | null;
}

/** Docker's X-Registry-Auth: the AuthConfig as URL-safe base64 JSON. */
export function registryAuthHeader(c: RegistryCredentials): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export class PersonaClient implements ImageStore {
  private readonly http: HttpClient;

  constructor(
    endpoint: string | Endpoint,
    /** How long a pull may take before it is given up (ms). */
    private readonly pullTimeoutMs = 30 * 60_000,
  ) {
    this.http = new HttpClient(endpoint, 'persona');
  }

  async pull(
    image: string,
    credentials?: RegistryCredentials,
    onProgress?: (status: string) => void,
  ): Promise<void> {
    const ref = splitReference(image);
    const signal = AbortSignal.timeout(this.pullTimeoutMs);
    const res = await this.http.stream('POST', '/images/create', {
      query: { fromImage: ref.repository, tag: ref.tag },
      headers: credentials ? { 'x-registry-auth': registryAuthHeader(credentials) } : {},
      signal,
    });
    let rest = '';
    let failure: string | undefined;
    const take = (line: string) => {
      if (!line.trim()) return;
      let m: ProgressMessage;
      try {
        m = JSON.parse(line) as ProgressMessage;
      } catch {
        return; // Not ours to judge: a progress line we cannot read is skipped.
      }
      if (m.error !== undefined || m.errorDetail !== undefined)
        failure ??= m.errorDetail?.message ?? m.error ?? 'pull failed';
      else if (m.status) onProgress?.(m.id ? `${m.id}: ${m.status}` : m.status);
    };
    try {
      for await (const chunk of res) {
        rest += (chunk as Buffer).toString('utf8');
        const lines = rest.split('\n');
        rest = lines.pop()!;
        for (const line of lines) take(line);
      }
    } catch (err) {
      throw new NodeError(
        'Unavailable',
        `pull of ${image}: ${signal.aborted ? 'timed out' : `the persona went away (${(err as Error).message})`}`,
      );
    }
    take(rest);
    if (failure !== undefined) throw new NodeError(pullErrorKind(failure), failure);
  }

  async list(): Promise<ImageSummary[]> {
    const images: { RepoTags?: string[] | null; RepoDigests?: string[] | null; Size?: number }[] =
      await this.http.json('GET', '/images/json');
    return images.map((i) => ({
      names: [...(i.RepoDigests ?? []), ...(i.RepoTags ?? [])].filter((n) => !n.includes('<none>')),
      sizeBytes: i.Size ?? 0,
    }));
  }

  async get(image: string): Promise<ImageConfig | undefined> {
    splitReference(image); // a bad name is InvalidInput, not a 404
    let inspect: DockerImageInspect;
    try {
      inspect = await this.http.json('GET', `/images/${image}/json`);
    } catch (err) {
      if ((err as NodeError).kind === 'NotFound') return undefined;
      throw err;
    }
    const c = inspect.Config ?? {};
    return {
      id: inspect.Id,
      name: image,
      entrypoint: c.Entrypoint ?? [],
      cmd: c.Cmd ?? [],
      env: c.Env ?? [],
      workingDir: c.WorkingDir ?? '',
      user: c.User ?? '',
      stopSignal: c.StopSignal || undefined,
      ...(typeof inspect.Size === 'number' ? { size: inspect.Size } : {}),
    };
  }
}

/** A pull that can never work as asked (no such image, no access) is not worth a quick retry. */
function pullErrorKind(message: string): ErrorKind {
  return /not found|unknown|denied|unauthori[sz]ed|no such/i.test(message)
    ? 'NotFound'
    : 'Unavailable';
}
