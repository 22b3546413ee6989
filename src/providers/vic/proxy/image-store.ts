// ImageStore: images through the VCH's persona (the Docker Engine API), as the seed's provider
// pulled them: a pull through the persona keeps the VCH's docker view and the node's in step.
// The HTTP implementation is persona-client.ts; unit tests use a double
// (test/support/fake-proxies.ts).

/** Registry credentials for one pull (Docker's AuthConfig, sent as X-Registry-Auth). */
export interface RegistryCredentials {
  username: string;
  password: string;
  serveraddress: string;
}

/** What a task needs of an image: its id and the config its process defaults come from. */
export interface ImageConfig {
  /** "sha256:…" */
  id: string;
  /** The reference it was asked for. */
  name: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  stopSignal?: string;
  /** Its size on the VCH (bytes), when the VCH says. */
  size?: number;
}

export interface ImageStore {
  /** Pulls `image` (a Docker reference) into the VCH. Throws with the registry's message. */
  pull(
    image: string,
    credentials?: RegistryCredentials,
    onProgress?: (status: string) => void,
  ): Promise<void>;
  /** The image's config if the VCH has it, else undefined. */
  get(image: string): Promise<ImageConfig | undefined>;
  /** Optional: the images the VCH has, with their names and sizes (node status.images). */
  list?(): Promise<ImageSummary[]>;
}

export interface ImageSummary {
  /** Its references: repo@digest ones first, then repo:tag ones. */
  names: string[];
  sizeBytes: number;
}
