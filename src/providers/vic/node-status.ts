// The node's capacity from the VCH's /vch/info, as the seed's provider computed it: CPUs (VIC
// reports MHz; 1 GHz counts as one core when the VCH does not say how many it has), memory in
// MiB, and pods (one per 2 GiB of memory unless the VCH says).
import type * as k8s from '@kubernetes/client-node';
import type { NodeConditionsAndAddresses } from '../../node/provider.js';
import type { Observations } from '../../node/pressure/thresholds.js';
import type { ImageSummary } from './proxy/image-store.js';
import type { VCHInfo } from './proxy/isolation-proxy.js';

const MIN_POD_MB = 2048;

export function capacityFromVchInfo(info: VCHInfo): Record<string, string> {
  const cpus = info.numCPUs ?? Math.floor((info.cpuMhz ?? 0) / 1000);
  const memoryMB = info.memory ?? 0;
  const pods = info.maxPods ?? Math.floor(memoryMB / MIN_POD_MB);
  return {
    cpu: String(cpus),
    memory: `${memoryMB}Mi`,
    pods: String(pods),
    // The VCH's state file system: where container rootfs, logs and emptyDirs live.
    ...(info.storageBytes !== undefined && { 'ephemeral-storage': String(info.storageBytes) }),
  };
}

/** The kubelet reports at most this many images (--node-status-max-images). */
export const MAX_IMAGES = 50;

/** status.images as the kubelet writes it: the largest first, at most MAX_IMAGES. */
export function nodeImages(images: ImageSummary[]): k8s.V1ContainerImage[] {
  return images
    .filter((i) => i.names.length > 0)
    .sort((a, b) => b.sizeBytes - a.sizeBytes)
    .slice(0, MAX_IMAGES)
    .map((i) => ({ names: i.names, sizeBytes: i.sizeBytes }));
}

export function nodeStatusFromVchInfo(info: VCHInfo, nodeIP: string): NodeConditionsAndAddresses {
  const capacity = capacityFromVchInfo(info);
  return {
    capacity,
    allocatable: capacity,
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'KubeletReady',
        message: 'the VCH answers',
      },
    ],
    addresses: [{ type: 'InternalIP', address: nodeIP }],
    signals: signalsFromVchInfo(info),
    nodeInfo: {
      operatingSystem: 'linux',
      architecture: info.architecture ?? 'amd64',
      kernelVersion: info.kernelVersion ?? '',
      osImage: [info.hostOS, info.hostOSVersion].filter(Boolean).join(' '),
      containerRuntimeVersion: `vic://${info.runtime ?? 'vch'}`,
      ...(info.machineID && { machineID: info.machineID }),
      ...(info.systemUUID && { systemUUID: info.systemUUID }),
      ...(info.bootID && { bootID: info.bootID }),
    },
  };
}

/** The kubelet's eviction signals from what the VCH measures (its state fs is both fs). */
export function signalsFromVchInfo(info: VCHInfo): Observations {
  const out: Observations = {};
  if (info.memoryAvailableBytes !== undefined && info.memory)
    out['memory.available'] = {
      available: info.memoryAvailableBytes,
      capacity: info.memory * 2 ** 20,
    };
  if (info.storageFreeBytes !== undefined && info.storageBytes) {
    const fs = { available: info.storageFreeBytes, capacity: info.storageBytes };
    out['nodefs.available'] = fs;
    out['imagefs.available'] = fs;
  }
  if (info.pidMax !== undefined && info.pidsInUse !== undefined)
    out['pid.available'] = { available: info.pidMax - info.pidsInUse, capacity: info.pidMax };
  return out;
}

export function notReadyStatus(
  message: string,
  nodeIP: string,
  last: Record<string, string> | undefined,
): NodeConditionsAndAddresses {
  return {
    capacity: last ?? {},
    conditions: [{ type: 'Ready', status: 'False', reason: 'VCHUnavailable', message }],
    addresses: [{ type: 'InternalIP', address: nodeIP }],
    nodeInfo: { operatingSystem: 'linux' },
  };
}
