// Test doubles for the provider's volume code: an in-memory VolumeStore (the contract's
// CreateVolume, VolumeJoin, WriteVolumeFiles, with its name rule, Conflict and NotFound) and an
// API server in maps (EnvSources) that counts its reads and can be changed between them.
import type * as k8s from '@kubernetes/client-node';
import { NodeError } from '../../src/node/errors.js';
import type {
  FileContent,
  VolumeJoinConfig,
  VolumeRequest,
  VolumeResponse,
  VolumeStore,
} from '../../src/providers/vic/proxy/volume-store.js';
import type { EnvSources } from '../../src/providers/vic/operations/env-sources.js';

export interface FakeVolume {
  request: VolumeRequest;
  files?: Map<string, { data: string; mode: number }>;
  owner?: { uid?: number; gid?: number };
  writes: number;
  usageBytes: number;
}

export class FakeVolumeStore implements VolumeStore {
  readonly volumes = new Map<string, FakeVolume>();
  readonly joins: { name: string; join: VolumeJoinConfig }[] = [];
  /** What was asked, in order: `create NAME`, `write NAME`, `join NAME /path`, `remove NAME`. */
  constructor(readonly calls: string[] = []) {}

  async createVolume(request: VolumeRequest): Promise<VolumeResponse> {
    this.calls.push(`create ${request.Name}`);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(request.Name))
      throw new NodeError('InvalidInput', `bad volume name ${request.Name}`);
    if (this.volumes.has(request.Name))
      throw new NodeError('Conflict', `volume ${request.Name} exists`);
    this.volumes.set(request.Name, { request, writes: 0, usageBytes: 0 });
    return { Name: request.Name, Label: '', Store: 'default', Driver: request.Driver };
  }

  async getVolume(name: string): Promise<VolumeResponse> {
    const v = this.volumes.get(name);
    if (!v) throw new NodeError('NotFound', `no volume ${name}`);
    return {
      Name: name,
      Label: '',
      Store: 'default',
      Driver: v.request.Driver,
      usageBytes: v.usageBytes,
    };
  }

  async listVolumes(): Promise<VolumeResponse[]> {
    return Promise.all([...this.volumes.keys()].map((n) => this.getVolume(n)));
  }

  async removeVolume(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    if (!this.volumes.delete(name)) throw new NodeError('NotFound', `no volume ${name}`);
  }

  async joinVolume(name: string, join: VolumeJoinConfig): Promise<string> {
    this.calls.push(`join ${name} ${join.MountPath}`);
    if (!this.volumes.has(name)) throw new NodeError('NotFound', `no volume ${name}`);
    this.joins.push({ name, join });
    // The same handle: the isolation double knows it (the change lives in this double).
    return join.Handle;
  }

  async writeVolumeFiles(
    name: string,
    files: FileContent[],
    owner?: { uid?: number; gid?: number },
  ): Promise<void> {
    this.calls.push(`write ${name}`);
    const v = this.volumes.get(name);
    if (!v) throw new NodeError('NotFound', `no volume ${name}`);
    v.files = new Map(files.map((f) => [f.path, { data: f.data.toString(), mode: f.mode }]));
    v.owner = owner;
    v.writes++;
  }

  /** The files of the pod volume `volume` as text, by path. */
  filesOf(volume: string): Record<string, string> | undefined {
    const v = [...this.volumes.values()].find(
      (x) => x.request.Metadata?.['vic-kubelet.io/volume'] === volume,
    );
    return v?.files && Object.fromEntries([...v.files].map(([p, f]) => [p, f.data]));
  }
}

/** An API server of ConfigMaps and Secrets (given as text, stored base64 as the API does). */
export function mapSources(
  objects: {
    configMaps?: Record<string, k8s.V1ConfigMap>;
    secrets?: Record<string, Record<string, string>>;
  } = {},
): EnvSources & {
  reads: string[];
  configMaps: Record<string, k8s.V1ConfigMap>;
  secrets: Record<string, Record<string, string>>;
} {
  const reads: string[] = [];
  const s = {
    reads,
    configMaps: objects.configMaps ?? {},
    secrets: objects.secrets ?? {},
    configMap: async (ns: string, name: string) => {
      reads.push(`cm ${ns}/${name}`);
      return s.configMaps[`${ns}/${name}`];
    },
    secret: async (ns: string, name: string) => {
      reads.push(`secret ${ns}/${name}`);
      const data = s.secrets[`${ns}/${name}`];
      return (
        data && {
          metadata: { name, namespace: ns },
          data: Object.fromEntries(
            Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
        }
      );
    },
    services: async () => [],
    service: async () => undefined,
  };
  return s;
}
