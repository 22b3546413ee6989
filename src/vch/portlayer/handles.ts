// Handles: VIC's change sets. A handle names an immutable set of changes to one container (pod):
// each join derives a new handle from an old one (the old one stays valid as it was), and a
// commit applies one handle's whole set. A handle remembers the container's version it was made
// from; a commit of a handle older than the container's current version is refused (Conflict),
// so two writers never silently undo each other. Handles live in memory and expire.
import { randomBytes } from 'node:crypto';
import { conflict, notFound } from '../errors.js';
import type { ContainerCreateConfig } from '../../api/portlayer/index.js';
import type { SecuritySpec } from '../../runtime/runtime.js';
import type { ContainerMount } from '../types.js';

export interface TaskSpec {
  /** The portlayer's task id (64 hex), fixed at join time. */
  id: string;
  name: string;
  deltaID: string;
  path: string;
  args: string[];
  env: string[];
  workingDir?: string;
  user?: string;
  stopSignal?: string;
  memoryLimitBytes?: number;
  cpuMillis?: number;
  security?: SecuritySpec;
  groupAdd?: string[];
  /** Kubernetes' terminationMessagePath (absolute), read at each exit. */
  terminationMessagePath?: string;
  /** Kubernetes' stdin, stdinOnce and tty (VIC's openStdin and tty). */
  openStdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
  /** Its volumes (VolumeJoin), in join order. */
  mounts?: ContainerMount[];
  /** Another task of the pod (its name) whose PID namespace it joins. */
  pidNamespaceOf?: string;
}

/** An exec joined to a running pod (TaskJoinConfig.execIn): it runs when bound and committed. */
export interface ExecTaskSpec {
  /** The portlayer's task id for the exec (64 hex). */
  id: string;
  /** The pod's task (by its name in the pod) the process runs in. */
  execIn: string;
  path: string;
  args: string[];
  env: string[];
  workingDir?: string;
  user?: string;
  timeoutSeconds?: number;
  /**
   * Streams rather than captured output: the process's stdio is reached through
   * /interaction/{id}/… (VIC's attach). VIC's default is true; ours is false, so a join that
   * does not say (probes, hooks) gets its output in Inspect.
   */
  attach?: boolean;
  /** With attach: the process reads /interaction/{id}/stdin. */
  openStdin?: boolean;
  /** With attach: the process runs on a terminal (resized by /interaction/{id}/resize). */
  tty?: boolean;
}

export interface ImageSpec {
  /** What the VCH resolves: an image id or reference. */
  image: string;
  repoName?: string;
}

export interface ChangeSet {
  readonly handle: string;
  /** The portlayer container id (a new one for a create). */
  readonly containerId: string;
  /** The container's version this was made from; 'new' for a container not yet created. */
  readonly base: number | 'new';
  readonly create?: ContainerCreateConfig;
  readonly images: ReadonlyMap<string, ImageSpec>;
  readonly tasks: readonly TaskSpec[];
  readonly execs: readonly ExecTaskSpec[];
  readonly bind: readonly string[];
  /** Tasks (portlayer ids) removed at commit, before new ones are joined (VIC's task remove). */
  readonly remove?: readonly string[];
  readonly state?: 'RUNNING' | 'STOPPED';
  readonly logging: boolean;
  readonly interaction: boolean;
  readonly scopes: readonly string[];
}

export const newHandleId = () => randomBytes(16).toString('hex');

export class HandleStore {
  private readonly sets = new Map<string, { set: ChangeSet; expires: number }>();
  private readonly versions = new Map<string, number>();
  private lastSweep = 0;

  constructor(
    /** How long an unused handle lives (ms). */
    private readonly ttlMs = 15 * 60_000,
    private readonly maxHandles = 10_000,
  ) {}

  version(containerId: string): number {
    return this.versions.get(containerId) ?? 0;
  }

  /** Records a commit: every handle made before it is stale now. */
  bump(containerId: string): void {
    this.versions.set(containerId, this.version(containerId) + 1);
  }

  forget(containerId: string): void {
    this.versions.delete(containerId);
  }

  /** A handle for a new container. */
  forNew(containerId: string, create: ContainerCreateConfig): string {
    return this.put({
      handle: newHandleId(),
      containerId,
      base: 'new',
      create,
      images: new Map(),
      tasks: [],
      execs: [],
      bind: [],
      logging: false,
      interaction: false,
      scopes: [],
    });
  }

  /** A handle on an existing container, at its current version. */
  forExisting(containerId: string): string {
    return this.put({
      handle: newHandleId(),
      containerId,
      base: this.version(containerId),
      images: new Map(),
      tasks: [],
      execs: [],
      bind: [],
      logging: false,
      interaction: false,
      scopes: [],
    });
  }

  get(handle: string): ChangeSet {
    this.sweep();
    const e = this.sets.get(handle);
    if (!e)
      throw notFound(`no such handle ${JSON.stringify(handle)} (unknown, committed, or expired)`);
    return e.set;
  }

  /** A new handle: the old one's changes plus `change`. The old handle is left as it was. */
  derive(handle: string, change: (s: ChangeSet) => Partial<Omit<ChangeSet, 'handle'>>): string {
    const old = this.get(handle);
    return this.put({ ...old, ...change(old), handle: newHandleId() });
  }

  /** Takes a handle for a commit: NotFound if unknown, Conflict if stale. */
  take(handle: string, exists: boolean): ChangeSet {
    const set = this.get(handle);
    if (set.base === 'new' ? exists : set.base !== this.version(set.containerId))
      throw conflict(
        `handle ${handle} is stale: container ${set.containerId} changed since it was made; get a new handle`,
      );
    this.sets.delete(handle);
    return set;
  }

  /**
   * Takes a handle whose only changes are bound execs: they change nothing of the container, so
   * the handle is not held to its version (a probe's exec never makes another handle stale).
   * Undefined (the handle left as it is) when it holds other changes.
   */
  takeExecsOnly(handle: string): ChangeSet | undefined {
    const s = this.get(handle);
    const execOnly =
      s.base !== 'new' &&
      s.execs.length > 0 &&
      s.images.size === 0 &&
      s.tasks.length === 0 &&
      !s.remove?.length &&
      s.state === undefined &&
      !s.logging &&
      !s.interaction &&
      s.scopes.length === 0 &&
      s.bind.every((id) => s.execs.some((e) => e.id === id));
    if (!execOnly) return undefined;
    this.sets.delete(handle);
    return s;
  }

  private put(set: ChangeSet): string {
    this.sweep();
    if (this.sets.size >= this.maxHandles) {
      // The oldest go first (a Map keeps insertion order).
      const oldest = this.sets.keys().next().value;
      if (oldest !== undefined) this.sets.delete(oldest);
    }
    this.sets.set(set.handle, { set: Object.freeze(set), expires: Date.now() + this.ttlMs });
    return set.handle;
  }

  private sweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [h, e] of this.sets) if (e.expires <= now) this.sets.delete(h);
  }
}
