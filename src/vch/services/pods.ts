// Pods: created empty (a sandbox in the runtime) for containers to join, or made implicitly
// for a container created without one (`docker run`: the container is the whole pod, and its
// pod goes with it). A new pod's backend is asked for by the request, else by its labels, else
// the runtime's default.
import type { VolumeService } from '../volumes/volume-service.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { PodRow } from '../db.js';
import { conflict, errorKind } from '../errors.js';
import { checkName, newId } from '../names.js';
import { checkPublishedPorts } from '../network/ports.js';
import { backendOfLabels, checkBackend } from '../runtime-label.js';
import type { CreateContainerRequest, CreatePodRequest, PodInfo, RemoveRequest } from '../types.js';
import { type VchContext, nowIso } from './context.js';
import { findPod } from './lookup.js';

/** A new pod's backend: asked for by the request, else by its labels, else the default. */
function backendFor(
  runtime: Runtime,
  requested: string | undefined,
  labels: Record<string, string> | undefined,
): 'runc' | 'vm' {
  return (
    checkBackend(requested, 'runtime') ??
    backendOfLabels(labels) ??
    (runtime.name === 'vm' ? 'vm' : 'runc')
  );
}

/** The pod of a container created without one (not yet recorded). */
export function implicitPod(
  runtime: Runtime,
  containerId: string,
  req: CreateContainerRequest,
): PodRow {
  const podId = newId();
  return {
    id: podId,
    name: `implicit-${podId.slice(0, 12)}`,
    hostname: req.hostname ?? containerId.slice(0, 12),
    labels: {},
    implicit: true,
    spec: {
      ...(req.sysctls && Object.keys(req.sysctls).length > 0 && { sysctls: req.sysctls }),
      ...(req.memoryLimitBytes !== undefined && { memoryLimitBytes: req.memoryLimitBytes }),
      ...(req.cpuMillis !== undefined && { cpuMillis: req.cpuMillis }),
      ...(req.ports?.length && { ports: req.ports }),
      ...(req.names && { names: req.names }),
    },
    created: nowIso(),
    runtime: backendFor(runtime, req.runtime, req.labels),
  };
}

/** Creates a pod's sandbox in the runtime. */
export function createSandbox(runtime: Runtime, pod: PodRow): Promise<void> {
  return runtime.createSandbox({
    id: pod.id,
    hostname: pod.hostname,
    ...pod.spec,
    runtime: pod.runtime,
  });
}

/** Removes a pod's sandbox from the runtime; one already gone is fine. */
export async function removeSandbox(runtime: Runtime, podId: string): Promise<void> {
  await runtime.removeSandbox(podId).catch((e: unknown) => {
    if (errorKind(e) !== 'NotFound') throw e;
  });
}

export class PodService {
  constructor(
    private readonly ctx: VchContext,
    /** Removes a container (forced): the container service's remove. */
    private readonly removeContainer: (id: string) => Promise<void>,
    private readonly volumes: VolumeService,
  ) {}

  async create(req: CreatePodRequest = {}): Promise<PodInfo> {
    const { ctx } = this;
    const { db } = ctx;
    ctx.ensureOpen();
    const id = newId();
    const name = req.name !== undefined ? checkName(req.name, 'pod') : `pod-${id.slice(0, 12)}`;
    if (db.podByName(name)) throw conflict(`the pod name "${name}" is already in use`);
    const pod: PodRow = {
      id,
      name,
      hostname: req.hostname ?? name,
      labels: req.labels ?? {},
      implicit: false,
      spec: {
        ...(req.shareProcessNamespace !== undefined && {
          shareProcessNamespace: req.shareProcessNamespace,
        }),
        ...(req.hostNetwork && { hostNetwork: true }),
        ...(req.hostPID && { hostPID: true }),
        ...(req.hostIPC && { hostIPC: true }),
        ...(req.sysctls && Object.keys(req.sysctls).length > 0 && { sysctls: req.sysctls }),
        ...(req.memoryLimitBytes !== undefined && { memoryLimitBytes: req.memoryLimitBytes }),
        ...(req.cpuMillis !== undefined && { cpuMillis: req.cpuMillis }),
        ...(req.names && { names: req.names }),
        ...(req.ports?.length && { ports: req.ports }),
      },
      created: nowIso(),
      runtime: backendFor(ctx.runtime, req.runtime, req.labels),
    };
    // Checked and recorded with no await between: no other create takes the port meanwhile.
    checkPublishedPorts(req.ports ?? [], {
      network: ctx.network !== undefined,
      joinsPod: false,
      taken: db.pods().map((p) => ({ pod: p.name, ports: p.spec.ports ?? [] })),
    });
    db.insertPod(pod);
    try {
      await createSandbox(ctx.runtime, pod);
    } catch (e) {
      db.deletePod(id);
      throw e;
    }
    ctx.emit('pod', 'create', id, { name });
    return this.#info(pod);
  }

  /** Removes a pod; its containers must be removed first unless `force` (then they are). */
  async remove(ref: string, req: RemoveRequest = {}): Promise<void> {
    const { ctx } = this;
    const { db } = ctx;
    const pod = findPod(db, ref);
    const containers = db.containersOfPod(pod.id);
    if (containers.length > 0 && !req.force)
      throw conflict(`pod ${pod.name} still has ${containers.length} container(s)`);
    for (const c of containers) await this.removeContainer(c.id);
    if (!db.pod(pod.id)) return; // an implicit pod went with its container
    await removeSandbox(ctx.runtime, pod.id);
    db.deletePod(pod.id);
    await this.volumes.removeOwnedBy(pod);
    ctx.emit('pod', 'destroy', pod.id, { name: pod.name });
  }

  async inspect(ref: string): Promise<PodInfo> {
    const pod = findPod(this.ctx.db, ref);
    // Its address, when its sandbox's attachment is under way (the provider reads it for
    // status.podIP in env right after committing the sandbox).
    await this.ctx.runtime.networkSettled?.(pod.id);
    return this.#info(pod);
  }

  async list(): Promise<PodInfo[]> {
    return this.ctx.db.pods().map((p) => this.#info(p));
  }

  #info(p: PodRow): PodInfo {
    return {
      id: p.id,
      name: p.name,
      hostname: p.hostname,
      labels: p.labels,
      implicit: p.implicit,
      created: p.created,
      containerIds: this.ctx.db.containersOfPod(p.id).map((c) => c.id),
      runtime: p.runtime,
      ...this.ctx.networkOf(p.id),
    };
  }
}
