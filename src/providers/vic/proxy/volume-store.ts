// VolumeStore: the VCH's volumes as the provider asks for them (VIC's portlayer /storage/volumes
// routes, with the extensions of /work/notes/volumes-contract.md: DriverArgs medium/sizeLimit/
// pod/ephemeral/uid/gid, GetVolume's usageBytes, WriteVolumeFiles). A pod's volume is created
// for that pod (removed with it), filled with WriteVolumeFiles when its content is computed
// here (configMap, secret, downwardAPI, projected), and joined to each task that mounts it.

import type {
  VolumeJoinConfig,
  VolumeRequest,
  VolumeResponse,
} from '../../../api/portlayer/index.js';

export type { VolumeJoinConfig, VolumeRequest, VolumeResponse };

/** One file of WriteVolumeFiles: a relative path, its bytes and mode (0..0o777). */
export interface FileContent {
  path: string;
  data: Buffer;
  mode: number;
  /** Its owner, when not the volume's (the kubelet's FsUser of a token file). */
  uid?: number;
}

export interface VolumeStore {
  /** Conflict when the name exists; InvalidInput for a bad request (a hostPath type check). */
  createVolume(request: VolumeRequest): Promise<VolumeResponse>;
  /** NotFound when there is none. */
  getVolume(name: string): Promise<VolumeResponse>;
  listVolumes(): Promise<VolumeResponse[]>;
  /** Conflict while a pod that is not removed has it joined. */
  removeVolume(name: string): Promise<void>;
  /** Joins the volume to a task of the handle; answers the new handle. */
  joinVolume(name: string, join: VolumeJoinConfig): Promise<string>;
  /** Replaces the volume's whole content atomically (the kubelet's ..data swap). */
  writeVolumeFiles(
    name: string,
    files: FileContent[],
    owner?: { uid?: number; gid?: number },
  ): Promise<void>;
}
