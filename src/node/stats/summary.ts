// The kubelet's /stats/summary document (k8s.io/kubelet/pkg/apis/stats/v1alpha1 Summary) from a
// provider's usage samples: the node, each pod with its containers, CPU as cumulative
// usageCoreNanoSeconds and the usageNanoCores rate (cpu-rate.ts), memory, network, rootfs, logs,
// the pod's volumes, and its ephemeral storage (its containers' layers and logs and its volumes
// on the node's disk). Field names are the Go
// type's JSON tags; optional ones are left out when unknown, as omitempty does.
import { CpuRates } from './cpu-rate.js';
import type {
  ContainerUsage,
  CpuSample,
  FsSample,
  InterfaceSample,
  MemorySample,
  NodeUsage,
  PodUsage,
} from './usage.js';

export interface SummaryCpu {
  time: string;
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}

export type SummaryMemory = { time: string } & Partial<MemorySample>;
export type SummaryFs = { time: string } & Partial<FsSample>;
export type SummaryInterface = Partial<InterfaceSample> & { name: string };
export type SummaryNetwork = { time: string; interfaces?: SummaryInterface[] } & Partial<
  Omit<InterfaceSample, 'name'>
> & { name?: string };

export interface SummaryContainer {
  name: string;
  startTime: string;
  cpu?: SummaryCpu;
  memory?: SummaryMemory;
  rootfs?: SummaryFs;
  logs?: SummaryFs;
}

/** The kubelet's VolumeStats: FsStats inline and the volume's name in the pod. */
export type SummaryVolume = SummaryFs & { name: string };

export interface SummaryPod {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: SummaryContainer[];
  volume?: SummaryVolume[];
  cpu?: SummaryCpu;
  memory?: SummaryMemory;
  network?: SummaryNetwork;
  'ephemeral-storage'?: SummaryFs;
  process_stats?: { process_count?: number };
}

export interface Summary {
  node: {
    nodeName: string;
    startTime: string;
    cpu?: SummaryCpu;
    memory?: SummaryMemory;
    fs?: SummaryFs;
    runtime?: { imageFs?: SummaryFs; containerFs?: SummaryFs };
  };
  pods: SummaryPod[];
}

const ms = (iso: string) => Date.parse(iso);

/** Only the Summary's memory fields (a sample may carry more, such as a limit). */
function memory(time: string, m: MemorySample): SummaryMemory {
  return {
    time,
    ...(m.availableBytes !== undefined && { availableBytes: m.availableBytes }),
    usageBytes: m.usageBytes,
    workingSetBytes: m.workingSetBytes,
    rssBytes: m.rssBytes,
    pageFaults: m.pageFaults,
    majorPageFaults: m.majorPageFaults,
  };
}

/** Only the Summary's filesystem fields. */
function fsOf(time: string, f: FsSample): SummaryFs {
  return {
    time,
    availableBytes: f.availableBytes,
    capacityBytes: f.capacityBytes,
    usedBytes: f.usedBytes,
    inodesFree: f.inodesFree,
    inodes: f.inodes,
    inodesUsed: f.inodesUsed,
  };
}

/** Renders Summaries, keeping the previous CPU samples for the rates. */
export class SummaryBuilder {
  readonly #rates = new CpuRates();

  constructor(private readonly nodeName: string) {}

  build(u: NodeUsage): Summary {
    const live = new Set<string>();
    const cpu = (key: string, c: CpuSample, time: string, since: string): SummaryCpu => {
      live.add(key);
      return {
        time,
        usageNanoCores: this.#rates.rate(key, c, ms(time), ms(since)),
        usageCoreNanoSeconds: c.usageCoreNanoSeconds,
      };
    };
    const pods = u.pods.map((p) => this.#pod(p, cpu));
    const fs = u.fs && fsOf(u.time, u.fs);
    const summary: Summary = {
      node: {
        nodeName: this.nodeName,
        startTime: u.startTime,
        cpu: cpu('node', u.cpu, u.time, u.startTime),
        memory: memory(u.time, u.memory),
        ...(fs && { fs, runtime: { imageFs: fs, containerFs: fs } }),
      },
      pods,
    };
    this.#rates.prune(live);
    return summary;
  }

  #pod(
    p: PodUsage,
    cpu: (key: string, c: CpuSample, time: string, since: string) => SummaryCpu,
  ): SummaryPod {
    const running = p.containers.filter((c) => c.cpu && c.memory);
    const containers = p.containers.map((c) =>
      container(c, (k, s) => cpu(`${p.uid}/${k}`, s, c.time, c.startTime)),
    );
    const podCpu = running.reduce((n, c) => n + c.cpu!.usageCoreNanoSeconds, 0);
    const sumMem = (k: keyof MemorySample) => running.reduce((n, c) => n + (c.memory![k] ?? 0), 0);
    const volumes = p.volumes ?? [];
    // As the kubelet: the layers, the logs and the volumes on the node's disk.
    const ephemeral = sumFs([
      ...p.containers.flatMap((c) => [c.rootfs, c.logs]),
      ...volumes.filter((v) => v.localEphemeral).map((v) => v.fs),
    ]);
    const processes = running.reduce((n, c) => n + (c.processes ?? 0), 0);
    const out: SummaryPod = {
      podRef: { name: p.name, namespace: p.namespace, uid: p.uid },
      startTime: p.startTime,
      containers,
    };
    if (running.length > 0) {
      // The pod's rate is its containers' rates summed (its own series would restart with each).
      const rates = containers.reduce((n, c) => n + (c.cpu?.usageNanoCores ?? 0), 0);
      out.cpu = { time: p.time, usageNanoCores: rates, usageCoreNanoSeconds: podCpu };
      out.memory = {
        time: p.time,
        usageBytes: sumMem('usageBytes'),
        workingSetBytes: sumMem('workingSetBytes'),
        rssBytes: sumMem('rssBytes'),
        pageFaults: sumMem('pageFaults'),
        majorPageFaults: sumMem('majorPageFaults'),
      };
      out.process_stats = { process_count: processes };
    }
    if (volumes.length > 0)
      out.volume = volumes.map((v) => ({ ...fsOf(v.time, v.fs), name: v.name }));
    if (p.interfaces.length > 0) out.network = network(p.time, p.interfaces);
    if (ephemeral) out['ephemeral-storage'] = fsOf(p.time, ephemeral);
    return out;
  }
}

function container(
  c: ContainerUsage,
  cpu: (key: string, c: CpuSample) => SummaryCpu,
): SummaryContainer {
  return {
    name: c.name,
    startTime: c.startTime,
    ...(c.cpu && { cpu: cpu(`${c.name}/${c.startTime}`, c.cpu) }),
    ...(c.memory && { memory: memory(c.time, c.memory) }),
    ...(c.rootfs && { rootfs: fsOf(c.time, c.rootfs) }),
    ...(c.logs && { logs: fsOf(c.time, c.logs) }),
  };
}

/** The kubelet's pod network: the default interface (eth0, else the first) inline, and all. */
function network(time: string, interfaces: InterfaceSample[]): SummaryNetwork {
  const main = interfaces.find((i) => i.name === 'eth0') ?? interfaces[0];
  return { time, ...main, interfaces };
}

/** Used bytes and inodes summed; the device's room from the first (they share one). */
function sumFs(list: (FsSample | undefined)[]): FsSample | undefined {
  const fs = list.filter((f): f is FsSample => f !== undefined);
  if (fs.length === 0) return undefined;
  return {
    ...fs[0],
    usedBytes: fs.reduce((n, f) => n + f.usedBytes, 0),
    inodesUsed: fs.reduce((n, f) => n + f.inodesUsed, 0),
  };
}
