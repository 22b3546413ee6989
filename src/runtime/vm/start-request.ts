// Starting a container in a pod VM: the agent's start request (tether/protocol.h), and waiting
// for its answer on the control channel — the only place the host learns of a start.
import { capMask, effectiveCaps } from '../capabilities.js';
import { unavailable } from '../errors.js';
import { compileBpf } from '../seccomp/bpf.js';
import type { ResolvedProfile } from '../seccomp/profile.js';
import type { LogRotation } from '../log-rotation.js';
import type { ContainerRecord } from '../core/container-record.js';
import type { PreparedMount } from '../core/volume-mounts.js';
import type { ExitedRecord, StartedRecord } from '../core/protocol.js';
import type { AgentMessage, ControlChannel } from './control.js';

/**
 * The start request's tokens for the container's process, user, limits and volumes (bound on
 * the host under the container's share directory, `mounts/<name>`: the agent binds each in).
 */
export function startRequest(
  rec: ContainerRecord,
  sharePid: boolean,
  volumes: readonly PreparedMount[] = [],
  seccomp?: ResolvedProfile,
  /** Its log's rotation, and what the current file holds. */
  log?: LogRotation & { size: number },
): (string | number)[] {
  const p = rec.spec.process;
  const env = p.env.some((kv) => kv.startsWith('HOME='))
    ? p.env
    : [...p.env, `HOME=${rec.user.home}`];
  const gids = rec.user.additionalGids.join(',');
  // The container's own limits: a cgroup in the guest (the VM is the pod's size).
  let opts = sharePid ? 'shared' : 'private';
  if (rec.spec.memoryLimitBytes) opts += `,mem=${Math.floor(rec.spec.memoryLimitBytes)}`;
  if (rec.spec.cpuMillis) opts += `,cpu=${Math.ceil(rec.spec.cpuMillis)}`;
  // Docker's default capabilities unless the spec says otherwise, as on runc.
  const sec = rec.spec.security ?? {};
  opts += `,caps=${capMask(effectiveCaps(sec.capAdd, sec.capDrop))}`;
  if (sec.noNewPrivileges) opts += ',nnp';
  if (sec.readOnlyRootfs) opts += ',ro';
  // The guest has no libseccomp: the host compiles the filter, the agent installs it.
  if (seccomp) opts += `,seccomp=${compileBpf(seccomp).toString('hex')}`;
  // Hex: a path may hold commas. The agent binds the share's termination-log there.
  const tlog = rec.spec.terminationMessagePath;
  if (tlog) opts += `,tlog=${Buffer.from(tlog).toString('hex')}`;
  if (log) opts += `,log=${log.maxSize}:${log.maxFiles}:${log.size}`;
  return [
    'start',
    rec.id,
    opts,
    rec.user.uid,
    rec.user.gid,
    gids,
    p.cwd,
    p.args.length,
    ...p.args,
    env.length,
    ...env,
    volumes.length,
    ...volumes.flatMap((v) => [
      v.name,
      v.destination,
      `${v.readOnly ? 'ro' : 'rw'},${v.isDir ? 'dir' : 'file'}`,
    ]),
  ];
}

/**
 * Sends the start request and resolves with the agent's started record, or its exited record
 * when the process could not exec. Records of an earlier run (an answer to a status request
 * still on its way) are told apart by their start time: only one after `previousStartNs` counts.
 */
export function requestStart(
  control: ControlChannel,
  request: (string | number)[],
  previousStartNs: bigint,
  timeoutMs: number,
): Promise<StartedRecord | ExitedRecord> {
  const id = String(request[1]);
  return new Promise((resolve, reject) => {
    const onMsg = (m: AgentMessage) => {
      if (m.type === 'hello' || !('id' in m) || m.id !== id) return;
      if (m.type === 'error') finish(unavailable(`the pod VM could not start ${id}: ${m.message}`));
      else if ((m.type === 'started' || m.type === 'exited') && m.startedNs > previousStartNs)
        finish(undefined, m);
    };
    const onClose = () =>
      finish(unavailable(`container ${id} did not start: its pod VM went away`));
    const timer = setTimeout(
      () => finish(unavailable(`container ${id} did not start in its pod VM`)),
      timeoutMs,
    );
    const finish = (err?: Error, m?: StartedRecord | ExitedRecord) => {
      clearTimeout(timer);
      control.off('message', onMsg);
      control.off('close', onClose);
      if (err) reject(err);
      else resolve(m!);
    };
    control.on('message', onMsg);
    control.on('close', onClose);
    try {
      control.send(request);
    } catch (e) {
      finish(e as Error);
    }
  });
}
