export * from './types.js';
export { CgroupFiles, cgroupVersion, oomKillCount, readCgroupUsage } from './cgroup.js';
export { fsUsage, treeUsage } from './disk-usage.js';
export { parseNetDev, readNetDev } from './net-dev.js';
export {
  hostMemory,
  parseBootTime,
  parseProcStat,
  readHostUsage,
  type HostMemory,
} from './host.js';
