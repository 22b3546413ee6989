// What the VCH tells of itself: its capacity (the host's, less what running containers ask
// for) and its info (name, version, runtime, counts, kernel), as /info and the node report them.
import { arch, release } from 'node:os';
import { hostCapacity } from '../capacity.js';
import type { Capacity, VchInfo } from '../types.js';
import type { VchContext } from './context.js';

export const VCH_VERSION = '0.1.0';

export class HostService {
  constructor(
    private readonly ctx: VchContext,
    /** The VCH's name in /info. */
    private readonly name: string,
    /** The pod VM boot metric; absent where there is no vm backend. */
    private readonly vmBoots: (() => NonNullable<VchInfo['vmBoots']>) | undefined,
  ) {}

  async capacity(): Promise<Capacity> {
    const { db, stateDir } = this.ctx;
    const host = await hostCapacity(stateDir);
    let usedCpuMillis = 0;
    let usedMemoryBytes = 0;
    let running = 0;
    for (const r of db.containers()) {
      if (r.status !== 'running') continue;
      running++;
      usedCpuMillis += r.config.cpuMillis ?? 0;
      usedMemoryBytes += r.config.memoryLimitBytes ?? 0;
    }
    return {
      cpus: host.cpus,
      memoryBytes: host.memoryBytes,
      diskBytes: host.diskBytes,
      diskFreeBytes: host.diskFreeBytes,
      usedCpuMillis,
      usedMemoryBytes,
      runningContainers: running,
      pods: db.pods().length,
    };
  }

  async info(): Promise<VchInfo> {
    const { db, runtime, stateDir } = this.ctx;
    const rows = db.containers();
    const count = (s: string) => rows.filter((r) => r.status === s).length;
    return {
      name: this.name,
      version: VCH_VERSION,
      runtime: runtime.name,
      stateDir,
      containers: {
        total: rows.length,
        running: count('running'),
        stopped: count('exited'),
        created: count('created'),
      },
      images: new Set(db.images().map((r) => r.configDigest)).size,
      capacity: await this.capacity(),
      os: 'linux',
      kernelVersion: release(),
      architecture: arch(),
      ...(this.vmBoots && { vmBoots: this.vmBoots() }),
    };
  }
}
