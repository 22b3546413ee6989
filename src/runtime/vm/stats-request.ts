// A pod VM container's figures: its cgroup in the guest, asked of the agent over the control
// channel (`stats`), and its writable layer on the host's share. The agent may be hostile: its
// answer is parsed strictly (control.ts) and only bounds a container's own figures.
import type { ContainerRecord } from '../core/container-record.js';
import type { ContainerSample } from '../runtime.js';
import { usageFromV2 } from '../stats/cgroup.js';
import { layerUsage } from '../stats/layer.js';
import type { ContainerUsage } from '../stats/types.js';
import type { ControlChannel, GuestStats } from './control.js';

/** How long the agent has to answer (it reads a few cgroup files). */
const ANSWER_MS = 5000;

/** The agent's figures for container `id`; undefined when it has none (or does not answer). */
export async function guestUsage(
  control: ControlChannel,
  id: string,
): Promise<ContainerUsage | undefined> {
  const answer = control.next(
    (m): m is GuestStats | { type: 'error'; id: string; message: string } =>
      (m.type === 'stats' || m.type === 'error') && m.id === id,
    ANSWER_MS,
    `stats of ${id}`,
  );
  control.send(['stats', id]);
  const m = await answer.catch(() => undefined);
  if (m?.type !== 'stats') return undefined;
  // The same reading as the host's cgroup v2 files (cgroup.ts), from the agent's numbers.
  return usageFromV2({
    cpuStat: `usage_usec ${m.usageUsec}`,
    memoryCurrent: String(m.current),
    memoryStat: `inactive_file ${m.inactiveFile}\nanon ${m.anon}\npgfault ${m.pgfault}\npgmajfault ${m.pgmajfault}`,
    memoryMax: m.max === undefined ? 'max' : String(m.max),
  });
}

export async function vmContainerSample(
  rec: ContainerRecord,
  control: ControlChannel | undefined,
  dirs: { rootfs: string; upper: string },
): Promise<ContainerSample> {
  const usage =
    rec.status === 'running' && control && !control.isClosed
      ? await guestUsage(control, rec.id)
      : undefined;
  return { ...(usage && { usage }), rootfs: await layerUsage(rec.rootfsMode, dirs) };
}
