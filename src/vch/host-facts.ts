// What the node reports of the host a VCH runs on, beyond its capacity (node status nodeInfo
// and the kubelet's eviction signals): its machine, system and boot ids, the memory still
// available, and how many process ids are in use. All read from host files no container can
// write (/etc, /sys, /proc of the host).
import { readFile } from 'node:fs/promises';
import { parseMeminfo } from '../runtime/stats/host.js';

export interface HostFacts {
  machineID: string;
  systemUUID: string;
  bootID: string;
  /** MemAvailable of /proc/meminfo (bytes). */
  memoryAvailableBytes: number | undefined;
  /** kernel.pid_max, and the threads that exist now (/proc/loadavg). */
  pidMax: number | undefined;
  pidsInUse: number | undefined;
}

async function text(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return '';
  }
}

const num = (s: string | undefined) => {
  const n = Number(s);
  return s !== undefined && s !== '' && Number.isFinite(n) ? n : undefined;
};

export async function hostFacts(): Promise<HostFacts> {
  const [machineID, systemUUID, bootID, meminfo, pidMax, loadavg] = await Promise.all([
    text('/etc/machine-id'),
    text('/sys/class/dmi/id/product_uuid'),
    text('/proc/sys/kernel/random/boot_id'),
    text('/proc/meminfo'),
    text('/proc/sys/kernel/pid_max'),
    text('/proc/loadavg'),
  ]);
  const avail = parseMeminfo(meminfo).get('MemAvailable');
  return {
    machineID,
    systemUUID: systemUUID.toLowerCase(),
    bootID,
    memoryAvailableBytes: avail,
    pidMax: num(pidMax),
    // "0.12 0.10 0.09 2/345 6789": the fourth field is running/total scheduling entities.
    pidsInUse: num(loadavg.split(' ')[3]?.split('/')[1]),
  };
}
