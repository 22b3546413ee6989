// The wire models' fields as data: each model of models.ts with the swagger definition(s) it
// stands for, and each field's JSON type, extensions marked. TypeScript holds each table to its
// interface (every field, no other, a type that fits); the contract test holds the tables to
// VIC's swagger. So a field renamed in models.ts is renamed here too, and then fails the test
// unless VIC's API has it.
import type * as M from './models.js';

/** A field's JSON type, in the swagger's terms. */
export type WireType =
  | 'string'
  | 'integer'
  | 'boolean'
  | 'string[]'
  /** An object of strings (swagger: additionalProperties string). */
  | 'map'
  /** Another model of MODELS by name (swagger: $ref), or a list of it. */
  | { model: string }
  | { list: string };

export interface FieldSpec {
  type: WireType;
  /** Ours, not VIC's: must not be in the swagger definition. */
  extension?: true;
}

/** The wire type that fits a TypeScript field type. */
type WireTypeOf<V> = [V] extends [string]
  ? 'string'
  : [V] extends [number]
    ? 'integer'
    : [V] extends [boolean]
      ? 'boolean'
      : [V] extends [string[]]
        ? 'string[]'
        : [V] extends [unknown[]]
          ? { list: string }
          : [V] extends [Record<string, string>]
            ? 'map'
            : { model: string };

/** Exactly the fields of T, each with a wire type that fits. */
type FieldTable<T> = { [K in keyof T]-?: FieldSpec & { type: WireTypeOf<NonNullable<T[K]>> } };

export interface ModelSpec {
  /**
   * The swagger definitions this model is the shape of (HandleResponse answers several joins);
   * none for a model that is ours alone.
   */
  swagger: string[];
  fields: Record<string, FieldSpec>;
}

const model = <T>(swagger: string[], fields: FieldTable<T>): ModelSpec => ({
  swagger,
  fields: fields as Record<string, FieldSpec>,
});

const ext = <W extends WireType>(type: W) => ({ type, extension: true as const });
const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const strs = { type: 'string[]' } as const;
const map = { type: 'map' } as const;

const MEMORY = {
  usageBytes: ext('integer'),
  workingSetBytes: ext('integer'),
  rssBytes: ext('integer'),
  pageFaults: ext('integer'),
  majorPageFaults: ext('integer'),
  limitBytes: ext('integer'),
};

export const MODELS = {
  PortlayerError: model<M.PortlayerError>(['Error'], { code: int, message: str }),
  VCHInfo: model<M.VCHInfo>(['VCHInfo'], {
    cpuMhz: int,
    memory: int,
    cpuUsage: int,
    memUsage: int,
    hostProductName: str,
    hostOS: str,
    hostOSVersion: str,
    numCPUs: ext('integer'),
    maxPods: ext('integer'),
    runtime: ext('string'),
    podNetwork: ext('string'),
    kernelVersion: ext('string'),
    architecture: ext('string'),
    storageBytes: ext('integer'),
    storageFreeBytes: ext('integer'),
    memoryAvailableBytes: ext('integer'),
    pidMax: ext('integer'),
    pidsInUse: ext('integer'),
    machineID: ext('string'),
    systemUUID: ext('string'),
    bootID: ext('string'),
  }),
  ContainerCreateConfig: model<M.ContainerCreateConfig>(['ContainerCreateConfig'], {
    name: str,
    numCPUs: int,
    memoryMB: int,
    networkDisabled: bool,
    annotations: map,
    hostname: str,
    domainname: str,
    shareProcessNamespace: ext('boolean'),
    hostNetwork: ext('boolean'),
    hostPID: ext('boolean'),
    hostIPC: ext('boolean'),
    sysctls: ext('map'),
    dns: ext({ model: 'PodDnsConfig' }),
    hostAliases: ext({ list: 'HostAlias' }),
    ports: ext({ list: 'PortMapping' }),
    hostsHeader: ext('string'),
  }),
  PodDnsConfig: model<M.PodDnsConfig>([], {
    nameservers: ext('string[]'),
    searches: ext('string[]'),
    options: ext('string[]'),
  }),
  HostAlias: model<M.HostAlias>([], { ip: ext('string'), hostnames: ext('string[]') }),
  PortMapping: model<M.PortMapping>([], {
    hostPort: ext('integer'),
    containerPort: ext('integer'),
    protocol: ext('string'),
    hostIP: ext('string'),
  }),
  ContainerCreatedInfo: model<M.ContainerCreatedInfo>(['ContainerCreatedInfo'], {
    handle: str,
    id: str,
  }),
  HandleResponse: model<M.HandleResponse>(
    ['ImageJoinResponse', 'TaskBindResponse', 'LoggingJoinResponse', 'InteractionJoinResponse'],
    { handle: str },
  ),
  HandleRequest: model<M.HandleRequest>(
    ['LoggingJoinConfig', 'InteractionJoinConfig', 'ScopesAddContainerConfig'],
    { handle: str },
  ),
  ContainerGetStateResponse: model<M.ContainerGetStateResponse>(['ContainerGetStateResponse'], {
    handle: str,
    state: str,
  }),
  ImageJoinConfig: model<M.ImageJoinConfig>(['ImageJoinConfig'], {
    handle: str,
    deltaID: str,
    imageID: str,
    repoName: str,
  }),
  TaskJoinConfig: model<M.TaskJoinConfig>(['TaskJoinConfig'], {
    handle: str,
    id: str,
    path: str,
    args: strs,
    workingDir: str,
    env: strs,
    user: str,
    attach: bool,
    openStdin: bool,
    tty: bool,
    stopSignal: str,
    name: ext('string'),
    deltaID: ext('string'),
    memoryLimitBytes: ext('integer'),
    cpuMillis: ext('integer'),
    groupAdd: ext('string[]'),
    readOnlyRootfs: ext('boolean'),
    privileged: ext('boolean'),
    capAdd: ext('string[]'),
    capDrop: ext('string[]'),
    noNewPrivileges: ext('boolean'),
    seccompProfile: ext('string'),
    seccompLocalhostProfile: ext('string'),
    execIn: ext('string'),
    timeoutSeconds: ext('integer'),
    terminationMessagePath: ext('string'),
    pidNamespaceOf: ext('string'),
    stdinOnce: ext('boolean'),
  }),
  TaskInspectConfig: model<M.TaskInspectConfig>(['TaskInspectConfig', 'TaskWaitConfig'], {
    handle: str,
    id: str,
  }),
  TaskInspectResponse: model<M.TaskInspectResponse>(['TaskInspectResponse'], {
    id: str,
    state: str,
    exitCode: int,
    processConfig: { type: { model: 'ProcessConfig' } },
    user: str,
    openStdin: bool,
    tty: bool,
    stdout: ext('string'),
    stderr: ext('string'),
    stdoutTruncated: ext('boolean'),
    stderrTruncated: ext('boolean'),
    timedOut: ext('boolean'),
  }),
  TaskJoinResponse: model<M.TaskJoinResponse>(['TaskJoinResponse'], { handle: str, id: str }),
  TaskBindConfig: model<M.TaskBindConfig>(['TaskBindConfig'], { handle: str, id: str }),
  TaskRemoveConfig: model<M.TaskRemoveConfig>(['TaskRemoveConfig'], { handle: str, id: str }),
  Image: model<M.Image>(['Image'], { ID: str, Store: str, Metadata: map }),
  ProcessConfig: model<M.ProcessConfig>(['ProcessConfig'], {
    pid: int,
    execPath: str,
    execArgs: strs,
    workingDir: str,
    user: str,
    env: strs,
    status: str,
    startTime: int,
    stopTime: int,
    exitCode: int,
    errorMsg: str,
    startedAt: ext('string'),
    finishedAt: ext('string'),
    reason: ext('string'),
    terminationMessage: ext('string'),
  }),
  TaskInfo: model<M.TaskInfo>([], {
    id: ext('string'),
    name: ext('string'),
    imageId: ext('string'),
    repoName: ext('string'),
    restartCount: ext('integer'),
    processConfig: ext({ model: 'ProcessConfig' }),
    previousProcessConfig: ext({ model: 'ProcessConfig' }),
    stopSignal: ext('string'),
  }),
  ContainerConfig: model<M.ContainerConfig>(['ContainerConfig'], {
    containerId: str,
    imageId: str,
    repoName: str,
    createTime: int,
    names: strs,
    annotations: map,
    state: str,
    restartCount: int,
    hostName: str,
    logPath: str,
    memorySizeMB: int,
    numCpu: int,
  }),
  EndpointConfig: model<M.EndpointConfig>(['EndpointConfig'], {
    id: str,
    name: str,
    scope: str,
    address: str,
    gateway: str,
    container: str,
    ports: strs,
    aliases: strs,
    nameservers: strs,
    trust: str,
    direct: bool,
    macaddress: str,
  }),
  ContainerInfo: model<M.ContainerInfo>(['ContainerInfo'], {
    containerConfig: { type: { model: 'ContainerConfig' } },
    processConfig: { type: { model: 'ProcessConfig' } },
    endpoints: { type: { list: 'EndpointConfig' } },
    dataVersion: int,
    tasks: ext({ list: 'TaskInfo' }),
    logging: ext('boolean'),
    interaction: ext('boolean'),
  }),
  BindContainerResponse: model<M.BindContainerResponse>(['BindContainerResponse'], {
    handle: str,
    endpoints: { type: { list: 'EndpointConfig' } },
  }),
  ScopeConfig: model<M.ScopeConfig>(['ScopeConfig'], {
    id: str,
    name: str,
    scopeType: str,
    subnet: str,
    gateway: str,
    dns: strs,
    endpoints: { type: { list: 'EndpointConfig' } },
    annotations: map,
    internal: bool,
  }),
  VolumeRequest: model<M.VolumeRequest>(['VolumeRequest'], {
    Name: str,
    Store: str,
    Driver: str,
    Capacity: int,
    DriverArgs: map,
    Metadata: map,
  }),
  VolumeResponse: model<M.VolumeResponse>(['VolumeResponse'], {
    Name: str,
    Label: str,
    Store: str,
    Driver: str,
    Metadata: map,
    usageBytes: ext('integer'),
    usage: ext({ model: 'FsStats' }),
  }),
  VolumeJoinConfig: model<M.VolumeJoinConfig>(['VolumeJoinConfig'], {
    Handle: str,
    MountPath: str,
    Flags: map,
  }),
  VolumeFile: model<M.VolumeFile>([], {
    path: ext('string'),
    data: ext('string'),
    mode: ext('integer'),
    uid: ext('integer'),
  }),
  WriteVolumeFilesRequest: model<M.WriteVolumeFilesRequest>([], {
    files: ext({ list: 'VolumeFile' }),
    uid: ext('integer'),
    gid: ext('integer'),
  }),
  CpuStats: model<M.CpuStats>([], { usageNanoSeconds: ext('integer') }),
  MemoryStats: model<M.MemoryStats>([], MEMORY),
  HostMemoryStats: model<M.HostMemoryStats>([], { ...MEMORY, availableBytes: ext('integer') }),
  FsStats: model<M.FsStats>([], {
    usedBytes: ext('integer'),
    inodesUsed: ext('integer'),
    capacityBytes: ext('integer'),
    availableBytes: ext('integer'),
    inodes: ext('integer'),
    inodesFree: ext('integer'),
  }),
  InterfaceStats: model<M.InterfaceStats>([], {
    name: ext('string'),
    rxBytes: ext('integer'),
    rxErrors: ext('integer'),
    txBytes: ext('integer'),
    txErrors: ext('integer'),
  }),
  TaskStats: model<M.TaskStats>([], {
    id: ext('string'),
    name: ext('string'),
    status: ext('string'),
    startedAt: ext('string'),
    read: ext('string'),
    cpu: ext({ model: 'CpuStats' }),
    memory: ext({ model: 'MemoryStats' }),
    processes: ext('integer'),
    rootfs: ext({ model: 'FsStats' }),
    logs: ext({ model: 'FsStats' }),
  }),
  ContainerStats: model<M.ContainerStats>([], {
    id: ext('string'),
    name: ext('string'),
    read: ext('string'),
    network: ext({ list: 'InterfaceStats' }),
    tasks: ext({ list: 'TaskStats' }),
  }),
  VCHStats: model<M.VCHStats>([], {
    read: ext('string'),
    bootTime: ext('string'),
    cpu: ext({ model: 'CpuStats' }),
    memory: ext({ model: 'HostMemoryStats' }),
    fs: ext({ model: 'FsStats' }),
  }),
} satisfies Record<string, ModelSpec>;
