// The portlayer's ContainerInfo of a pod (VIC's model plus its tasks) from the core's records.
import type { ContainerInfo as CoreContainer, PodInfo } from '../types.js';
import {
  annotationsOf,
  LABEL_INTERACTION,
  LABEL_LOGGING,
  LABEL_SCOPES,
  podPlId,
  taskPlId,
} from './directory.js';
import type {
  ContainerInfo,
  EndpointConfig,
  ProcessConfig,
  TaskInfo,
} from '../../api/portlayer/index.js';

const KNOWN_REASONS = new Set(['OOMKilled', 'Killed', 'Lost']);

const unixSeconds = (rfc3339?: string) =>
  rfc3339 ? Math.floor(Date.parse(rfc3339) / 1000) : undefined;

export function processConfigOf(c: CoreContainer): ProcessConfig {
  const reason = c.error && KNOWN_REASONS.has(c.error) ? c.error : undefined;
  // A task whose start failed is still "created", with the failure and exit code 128.
  const ended = c.status === 'exited' || (c.status === 'created' && c.error !== undefined);
  return {
    pid: c.pid,
    execPath: c.path,
    execArgs: c.args,
    workingDir: c.workingDir,
    user: c.user,
    env: c.env,
    status: c.status,
    startTime: unixSeconds(c.startedAt),
    stopTime: c.status === 'exited' ? unixSeconds(c.finishedAt) : undefined,
    exitCode: ended ? c.exitCode : undefined,
    errorMsg: c.error && !reason ? c.error : undefined,
    startedAt: c.startedAt,
    finishedAt: c.status === 'exited' ? c.finishedAt : undefined,
    reason,
    terminationMessage: c.status === 'exited' ? c.terminationMessage : undefined,
  };
}

export function taskInfoOf(c: CoreContainer): TaskInfo {
  return {
    id: taskPlId(c),
    name: c.nameInPod,
    imageId: c.imageId,
    repoName: c.imageReference,
    restartCount: c.restartCount,
    processConfig: processConfigOf(c),
    // The run before this one, as it ended: the pod's lastState, whoever restarted since.
    ...(c.previousRun && {
      previousProcessConfig: processConfigOf({
        ...c,
        status: 'exited',
        pid: undefined,
        startedAt: c.previousRun.startedAt,
        finishedAt: c.previousRun.finishedAt,
        exitCode: c.previousRun.exitCode,
        error: c.previousRun.error,
        terminationMessage: c.previousRun.terminationMessage,
      }),
    }),
    stopSignal: c.stopSignal,
  };
}

/** Created until a task has run; Running while one runs; Stopped after. */
export function podState(tasks: CoreContainer[]): string {
  if (tasks.some((t) => t.status === 'running')) return 'Running';
  if (tasks.every((t) => t.status === 'created' && t.startedAt === undefined)) return 'Created';
  return 'Stopped';
}

/**
 * The pod's endpoints: in the bridge scope once its sandbox is attached (every pod of a VCH with
 * a bridge network is), with its address; in each other scope it joined, without one (its own
 * network namespace).
 */
export function endpointsOf(pod: PodInfo): EndpointConfig[] {
  const scopes = pod.labels[LABEL_SCOPES]?.split(',').filter(Boolean) ?? [];
  const net = pod.network;
  const endpoint = (scope: string): EndpointConfig => ({
    id: `${podPlId(pod).slice(0, 12)}-${scope}`,
    name: pod.name,
    scope,
    address: net?.scope === scope ? net.address : '',
    gateway: net?.scope === scope ? net.gateway : '',
    container: podPlId(pod),
    ports: [],
    aliases: [],
    nameservers: [],
    direct: false,
    ...(net?.scope === scope && net.mac && { macaddress: net.mac }),
  });
  const all = net && !scopes.includes(net.scope) ? [net.scope, ...scopes] : scopes;
  return all.map(endpoint);
}

export function containerInfoOf(
  pod: PodInfo,
  tasks: CoreContainer[],
  only?: CoreContainer,
): ContainerInfo {
  const first = only ?? tasks[0];
  return {
    containerConfig: {
      containerId: podPlId(pod),
      imageId: first?.imageId,
      repoName: first?.imageReference,
      createTime: unixSeconds(pod.created),
      names: [pod.name],
      annotations: annotationsOf(pod),
      state: podState(tasks),
      restartCount: tasks.reduce((n, t) => n + t.restartCount, 0),
      hostName: pod.hostname,
      logPath: first?.logPath,
    },
    processConfig: first && processConfigOf(first),
    endpoints: endpointsOf(pod),
    tasks: tasks.map(taskInfoOf),
    logging: pod.labels[LABEL_LOGGING] === 'true',
    interaction: pod.labels[LABEL_INTERACTION] === 'true',
  };
}
