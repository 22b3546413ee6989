// The node's capacity from the VCH's /vch/info, as the seed's provider computed it: CPUs (VIC
// reports MHz; 1 GHz counts as one core when the VCH does not say how many it has), memory in
// MiB, and pods (one per 2 GiB of memory unless the VCH says).
import type { NodeConditionsAndAddresses } from '../../node/provider.js';
import type { VCHInfo } from './proxy/isolation-proxy.js';

const MIN_POD_MB = 2048;

export function capacityFromVchInfo(info: VCHInfo): Record<string, string> {
  const cpus = info.numCPUs ?? Math.floor((info.cpuMhz ?? 0) / 1000);
  const memoryMB = info.memory ?? 0;
  const pods = info.maxPods ?? Math.floor(memoryMB / MIN_POD_MB);
  return { cpu: String(cpus), memory: `${memoryMB}Mi`, pods: String(pods) };
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
    nodeInfo: {
      operatingSystem: 'linux',
      architecture: info.architecture ?? 'amd64',
      kernelVersion: info.kernelVersion ?? '',
      osImage: [info.hostOS, info.hostOSVersion].filter(Boolean).join(' '),
      containerRuntimeVersion: `vic://${info.runtime ?? 'vch'}`,
    },
  };
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
