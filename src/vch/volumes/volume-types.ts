// The VCH core's volumes as the persona and the portlayer see them: plain data.
import type { FsUsage } from '../../runtime/stats/types.js';

/** A mount of a container (CreateContainerRequest.mounts), as asked. */
export interface ContainerMount {
  /** volume: a VCH volume by name; bind: a host path; tmpfs: a memory volume of the pod's. */
  type: 'volume' | 'bind' | 'tmpfs';
  /** volume: the name; bind: the absolute host path; tmpfs: none. */
  source?: string;
  /** Absolute path in the container. */
  destination: string;
  readOnly?: boolean;
  /** Relative path inside the volume (volume and bind). */
  subPath?: string;
  /** tmpfs: its size in bytes (default: the kernel's). */
  sizeBytes?: number;
}

export type VolumeDriver = 'local' | 'bind';

export interface CreateVolumeRequest {
  /** [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}. */
  name: string;
  driver: VolumeDriver;
  /**
   * local: medium ("disk" | "memory"), sizeLimit (bytes), uid, gid; bind: path, type (the
   * hostPath type); both: pod (the owner's id), ephemeral ("true": removed with the pod).
   */
  driverArgs?: Record<string, string>;
  /** Bytes; -1 or absent for none. */
  capacityBytes?: number;
  metadata?: Record<string, string>;
}

/** A volume as the database keeps it. */
export interface VolumeRecord {
  name: string;
  driver: VolumeDriver;
  /** local: "disk" or "memory". */
  medium?: 'disk' | 'memory';
  /** The host path containers get: a local volume's data dir, a bind volume's path. */
  path: string;
  driverArgs: Record<string, string>;
  capacityBytes: number;
  metadata: Record<string, string>;
  /** The pod (portlayer container id, or core pod id) it belongs to. */
  owner?: string;
  /** Removed with its owner. */
  ephemeral: boolean;
  sizeLimitBytes?: number;
  /** RFC 3339. */
  created: string;
}

export interface VolumeInfo extends VolumeRecord {
  /** Bytes its content takes (local volumes, when asked): usage.usedBytes. */
  usageBytes?: number;
  /** Its content's bytes and inodes and its filesystem's room (local volumes, when asked). */
  usage?: FsUsage;
  /** Containers that mount it. */
  usedBy: string[];
}
