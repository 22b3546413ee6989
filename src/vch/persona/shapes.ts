// Docker Engine API JSON shapes made from the core's records: the container list entry and
// inspect document, the image summary and inspect document. Field names and zero values are
// Docker's, so the docker CLI's formatting (ps, inspect, images) works unchanged.
import { dockerNames } from './names.js';
import type { ContainerInfo, ImageInfo } from '../types.js';
import { securityOpts } from './security-opts.js';
import { portBindings, portList, portMap } from './ports.js';

/** Go's zero time, which Docker prints for a time that has not happened. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** `docker.io/library/busybox:1` → `busybox:1`; other registries stay as they are. */
export function familiar(reference: string): string {
  return reference.replace(/^docker\.io\/(library\/)?/, '');
}

/** How long ago, as Docker's "Up 3 minutes" / "Exited (0) 2 hours ago" say it. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

function statusText(c: ContainerInfo, now: number): string {
  if (c.status === 'running')
    return `Up ${humanDuration(now - Date.parse(c.startedAt ?? c.created))}`;
  if (c.status === 'exited')
    return `Exited (${c.exitCode ?? 0}) ${humanDuration(now - Date.parse(c.finishedAt ?? c.created))} ago`;
  return 'Created';
}

function unixSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

/** The list's Command, as dockerd writes it: arguments with a space in single quotes. */
function commandText(c: ContainerInfo): string {
  return [c.path, ...c.args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

/** An entry of GET /containers/json. */
export function containerSummary(c: ContainerInfo, now = Date.now()): Record<string, unknown> {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.config.image,
    ImageID: c.imageId,
    Command: commandText(c),
    Created: unixSeconds(c.created),
    // What it publishes while on the bridge, and what it exposes (docker ps's PORTS).
    Ports: c.network ? portList(c.network.ports ?? [], c.config.exposedPorts) : [],
    Labels: c.config.labels ?? {},
    State: c.status,
    Status: statusText(c, now),
    HostConfig: { NetworkMode: c.network ? c.network.scope : 'default' },
    NetworkSettings: { Networks: networkSettings(c).Networks },
    Mounts: [],
  };
}

/** The split of a container's merged process into Entrypoint and Cmd, as configured. */
function configSection(c: ContainerInfo, image: ImageInfo | undefined): Record<string, unknown> {
  const ic = image?.config ?? {};
  const entrypoint = c.config.entrypoint ?? (ic.Entrypoint as string[] | null | undefined) ?? null;
  const cmd =
    c.config.cmd ?? (c.config.entrypoint === undefined ? (ic.Cmd as string[] | undefined) : null);
  return {
    Hostname: c.config.hostname ?? c.id.slice(0, 12),
    Domainname: c.config.names?.domain ?? '',
    User: c.user,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: c.config.tty === true,
    OpenStdin: c.config.stdin === true,
    StdinOnce: c.config.stdinOnce === true,
    Env: c.env,
    Cmd: cmd ?? null,
    Image: c.config.image,
    Volumes: null,
    WorkingDir: c.workingDir,
    Entrypoint: entrypoint && entrypoint.length > 0 ? entrypoint : null,
    OnBuild: null,
    Labels: c.config.labels ?? {},
    ...(c.config.exposedPorts?.length && {
      ExposedPorts: Object.fromEntries(c.config.exposedPorts.map((k) => [k, {}])),
    }),
    StopSignal: c.stopSignal,
    ...(c.config.stopTimeout !== undefined && { StopTimeout: c.config.stopTimeout }),
  };
}

/** GET /containers/{id}/json. */
export function containerInspect(
  c: ContainerInfo,
  image: ImageInfo | undefined,
): Record<string, unknown> {
  const running = c.status === 'running';
  return {
    Id: c.id,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: {
      Status: c.status,
      Running: running,
      Paused: false,
      Restarting: false,
      OOMKilled: c.error === 'OOMKilled',
      Dead: false,
      Pid: running ? (c.pid ?? 0) : 0,
      ExitCode: c.exitCode ?? 0,
      // How it ended is the exit code and OOMKilled; Error is for what went wrong (a failed
      // start, a container lost while the VCH was away).
      Error:
        c.error === undefined || c.error === 'OOMKilled' || c.error === 'Killed' ? '' : c.error,
      StartedAt: c.startedAt ?? ZERO_TIME,
      FinishedAt: running ? ZERO_TIME : (c.finishedAt ?? ZERO_TIME),
    },
    Image: c.imageId,
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: c.logPath,
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: 'overlay',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      NetworkMode: c.network ? c.network.scope : 'default',
      PortBindings: portBindings(c.config.ports ?? []),
      PublishAllPorts: c.config.publishAllPorts ?? false,
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: c.config.autoRemove ?? false,
      LogConfig: { Type: 'vic-iolog', Config: {} },
      Memory: c.config.memoryLimitBytes ?? 0,
      NanoCpus: (c.config.cpuMillis ?? 0) * 1_000_000,
      Runtime: c.runtime,
      GroupAdd: c.config.groupAdd ?? null,
      ReadonlyRootfs: c.config.security?.readOnlyRootfs ?? false,
      CapAdd: c.config.security?.capAdd ?? null,
      CapDrop: c.config.security?.capDrop ?? null,
      SecurityOpt: securityOpts(c.config.security),
      Sysctls: c.config.sysctls ?? null,
      ...dockerNames(c.config.names),
    },
    GraphDriver: { Name: 'overlay', Data: null },
    Mounts: [],
    Config: configSection(c, image),
    NetworkSettings: {
      ...networkSettings(c),
      Ports: c.network ? portMap(c.network.ports ?? [], c.config.exposedPorts) : {},
    },
  };
}

/**
 * NetworkSettings as dockerd fills them: the container's address on the bridge, at the top and
 * under Networks.bridge; empty for a pod with loopback only.
 */
export function networkSettings(c: ContainerInfo): Record<string, unknown> {
  const n = c.network;
  if (!n) return { Networks: {} };
  const [ip, prefix] = n.address.split('/');
  const fields = {
    IPAddress: ip,
    IPPrefixLen: Number(prefix),
    Gateway: n.gateway,
    MacAddress: n.mac ?? '',
  };
  return {
    ...fields,
    Networks: {
      [n.scope]: {
        NetworkID: n.scope,
        EndpointID: `${c.podId.slice(0, 12)}-${n.scope}`,
        ...fields,
      },
    },
  };
}

/** An entry of GET /images/json. */
export function imageSummary(i: ImageInfo): Record<string, unknown> {
  return {
    Id: i.id,
    ParentId: '',
    RepoTags: i.references.map(familiar),
    RepoDigests: i.digests.map(familiar),
    Created: i.created,
    Size: i.size,
    SharedSize: -1,
    VirtualSize: i.size,
    Labels: (i.config.Labels as Record<string, string> | undefined) ?? {},
    Containers: -1,
  };
}

/** GET /images/{name}/json. */
export function imageInspect(i: ImageInfo): Record<string, unknown> {
  return {
    Id: i.id,
    RepoTags: i.references.map(familiar),
    RepoDigests: i.digests.map(familiar),
    Parent: '',
    Comment: '',
    Created: new Date(i.created * 1000).toISOString(),
    Config: i.config,
    Architecture: i.architecture,
    Os: i.os,
    Size: i.size,
    VirtualSize: i.size,
    GraphDriver: { Name: 'overlay', Data: null },
    RootFS: { Type: 'layers', Layers: i.diffIds },
    Metadata: { LastTagTime: ZERO_TIME },
  };
}
