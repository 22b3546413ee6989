export * from './types.js';
export { CgroupFiles, cgroupVersion, oomKillCount, readCgroupUsage } from './cgroup.js';
export { fsUsage, treeUsage } from './disk-usage.js';
export { parseNetDev, readNetDev } from './net-dev.js';
export {
  hostMemory,
  parseBootTime,
  parseProcStat,
  parseProcStatTotal,
  readHostUsage,
  readSystemCpuNanoSeconds,
  type HostMemory,
} from './host.js';
