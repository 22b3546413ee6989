// Usage figures of the VCH's containers, pods and host: what the portlayer's
// /containers/{id}/stats and `docker stats` serve, and what the kubelet's /stats/summary and
// /metrics/resource are made from. The runtime reads the cgroups (or the pod VM's agent does);
// the VCH adds what it owns: each container's log files.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fsUsage, readHostUsage, treeUsage } from '../../runtime/stats/index.js';
import type { CpuUsage, FsUsage, InterfaceUsage, MemoryUsage } from '../../runtime/stats/index.js';
import type { ContainerRow } from '../db.js';
import type { VchContext } from './context.js';
import { nowIso } from './context.js';
import { findContainer, findPod } from './lookup.js';

export interface ContainerStats {
  id: string;
  /** Its name in its pod. */
  name: string;
  podId: string;
  status: 'created' | 'running' | 'exited';
  startedAt?: string;
  /** When the figures were read (RFC 3339, nanoseconds). */
  read: string;
  /** While it runs. */
  cpu?: CpuUsage;
  memory?: MemoryUsage;
  processes?: number;
  rootfs?: FsUsage;
  logs?: FsUsage;
}

export interface PodStats {
  id: string;
  name: string;
  read: string;
  /** Its interfaces (not loopback); none when it has no network of its own. */
  network: InterfaceUsage[];
  containers: ContainerStats[];
}

export interface HostStats {
  read: string;
  /** When the host booted (RFC 3339). */
  bootTime: string;
  cpu: CpuUsage;
  memory: MemoryUsage & { availableBytes: number };
  /** The filesystem of the VCH's state (images, rootfs, logs). */
  fs: FsUsage;
}

export class StatsService {
  constructor(private readonly ctx: VchContext) {}

  /** One container's figures; NotFound when there is no such container. */
  async container(ref: string): Promise<ContainerStats> {
    return this.#of(findContainer(this.ctx.db, ref));
  }

  /** A pod's figures, with each of its containers'. */
  async pod(ref: string): Promise<PodStats> {
    const pod = findPod(this.ctx.db, ref);
    const rows = this.ctx.db.containersOfPod(pod.id);
    const [containers, net] = await Promise.all([
      Promise.all(rows.map((r) => this.#of(r))),
      this.ctx.runtime.sandboxStats?.(pod.id).catch(() => undefined),
    ]);
    return {
      id: pod.id,
      name: pod.name,
      read: nowIso(),
      network: net?.interfaces ?? [],
      containers,
    };
  }

  async host(): Promise<HostStats> {
    const { cpu, memory, bootTime } = await readHostUsage();
    const fs = await fsUsage({ bytes: 0, inodes: 0 }, this.ctx.stateDir);
    // The host's own use of its disk: what the filesystem has in use.
    fs.usedBytes = Math.max(0, fs.capacityBytes - fs.availableBytes);
    fs.inodesUsed = Math.max(0, fs.inodes - fs.inodesFree);
    return { read: nowIso(), bootTime, cpu, memory, fs };
  }

  async #of(row: ContainerRow): Promise<ContainerStats> {
    const sample = await this.ctx.runtime.stats?.(row.id).catch(() => undefined);
    const usage = row.status === 'running' ? sample?.usage : undefined;
    return {
      id: row.id,
      name: row.nameInPod,
      podId: row.podId,
      status: row.status,
      ...(row.startedAt && { startedAt: row.startedAt }),
      read: nowIso(),
      ...(usage && { cpu: usage.cpu, memory: usage.memory }),
      ...(usage?.processes !== undefined && { processes: usage.processes }),
      ...(sample?.rootfs && { rootfs: sample.rootfs }),
      logs: await this.#logs(row.id),
    };
  }

  /** The container's log files: output.log and any rotated ones beside it. */
  async #logs(id: string): Promise<FsUsage> {
    const dir = this.ctx.containerDir(id);
    const names = await readdir(dir).catch(() => [] as string[]);
    const logs = names.filter((n) => n.startsWith('output.log')).map((n) => join(dir, n));
    return fsUsage(await treeUsage(logs), dir);
  }
}
