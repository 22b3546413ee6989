// The node's usage report (Provider.getStats) from the VCH's figures: the VCH host's as the
// node's, and each committed pod's from the portlayer's container stats, its tasks matched to
// the pod's containers by task id, and its volumes' from GetVolume's usage. A pod the VCH no
// longer has (deleted meanwhile) is left out; so is a volume it does not have (yet, or any more).
import type { NodeUsage, PodUsage, PodVolumeUsage } from '../../node/stats/usage.js';
import type { VicPod } from './cache/vic-pod.js';
import { vchVolumeName } from './operations/volumes/plan.js';
import type { ContainerStats, StatsSource } from './proxy/stats-source.js';
import type { VolumeStore } from './proxy/volume-store.js';

export async function nodeUsage(
  source: StatsSource,
  pods: VicPod[],
  volumes?: Pick<VolumeStore, 'getVolume'>,
): Promise<NodeUsage> {
  const committed = pods.filter((vp) => vp.id !== undefined && vp.stage !== 'deleting');
  const [host, stats, podVolumes] = await Promise.all([
    source.vchStats(),
    Promise.all(
      committed.map((vp) =>
        source.containerStats(vp.id!).catch((err: unknown) => {
          if ((err as { kind?: string }).kind === 'NotFound') return undefined;
          throw err;
        }),
      ),
    ),
    Promise.all(committed.map((vp) => (volumes ? volumeUsage(vp, volumes) : []))),
  ]);
  const podUsages: PodUsage[] = [];
  committed.forEach((vp, i) => {
    const s = stats[i];
    if (s) podUsages.push({ ...podUsage(vp, s), volumes: podVolumes[i] });
  });
  return {
    startTime: host.bootTime,
    time: host.read,
    cpu: { usageCoreNanoSeconds: host.cpu.usageNanoSeconds },
    memory: host.memory,
    fs: host.fs,
    pods: podUsages,
  };
}

function podUsage(vp: VicPod, s: ContainerStats): PodUsage {
  const m = vp.pod.metadata!;
  const byTask = new Map(s.tasks.map((t) => [t.id, t]));
  const containers: PodUsage['containers'] = [];
  for (const c of vp.containers.values()) {
    const t = c.taskId ? byTask.get(c.taskId) : undefined;
    // Not created yet, or never started: nothing to report.
    if (!t?.startedAt) continue;
    containers.push({
      name: c.name,
      startTime: t.startedAt,
      time: t.read,
      ...(t.status === 'running' &&
        t.cpu &&
        t.memory && {
          cpu: { usageCoreNanoSeconds: t.cpu.usageNanoSeconds },
          memory: t.memory,
          ...(t.processes !== undefined && { processes: t.processes }),
        }),
      ...(t.rootfs && { rootfs: t.rootfs }),
      ...(t.logs && { logs: t.logs }),
    });
  }
  return {
    namespace: m.namespace!,
    name: m.name!,
    uid: m.uid ?? '',
    startTime: vp.startTime.toISOString(),
    time: s.read,
    interfaces: s.network,
    containers,
  };
}

/** The figures of the pod's local volumes (a hostPath has none, as on a kubelet). */
async function volumeUsage(
  vp: VicPod,
  store: Pick<VolumeStore, 'getVolume'>,
): Promise<PodVolumeUsage[]> {
  const time = new Date().toISOString();
  const local = (vp.pod.spec?.volumes ?? []).filter((v) => !v.hostPath);
  const got = await Promise.all(
    local.map((v) =>
      store.getVolume(vchVolumeName(vp.pod, v.name)).catch((err: unknown) => {
        if ((err as { kind?: string }).kind === 'NotFound') return undefined;
        throw err;
      }),
    ),
  );
  const out: PodVolumeUsage[] = [];
  local.forEach((v, i) => {
    const usage = got[i]?.usage;
    if (!usage) return;
    const localEphemeral = Boolean(v.emptyDir && v.emptyDir.medium !== 'Memory');
    out.push({ name: v.name, time, fs: usage, localEphemeral });
  });
  return out;
}
