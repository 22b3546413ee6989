// What the VCH's services share: the state directory and its paths, the database, the runtime,
// the log, the event stream, the per-container queue of operations and whether the VCH is
// shutting down. The composition root (../vch.ts) makes one and hands it to every service.
import type { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime } from '../../runtime/runtime.js';
import type { VchDb } from '../db.js';
import type { BridgeNetwork } from '../network/bridge-network.js';
import { conflict } from '../errors.js';
import type { PodNetworkInfo, VchEvent } from '../types.js';
import { previousLogDir } from './previous-log.js';

/** What the core logs; a pino logger fits. */
export interface VchLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const quietLogger: VchLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface VchEvents {
  event: [VchEvent];
}

/** Now, as Docker writes times (RFC 3339 with nanoseconds). */
export function nowIso(): string {
  return new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export class VchContext {
  /** Per-container queue of operations. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Listeners to one container's events (waits): by id, so an event costs one lookup. */
  readonly #watchers = new Map<string, Set<(e: VchEvent) => void>>();
  #closed = false;

  constructor(
    readonly stateDir: string,
    readonly db: VchDb,
    readonly runtime: Runtime,
    readonly log: VchLogger,
    /** Where events go, and where waiters listen for them (the Vch itself). */
    readonly events: EventEmitter<VchEvents>,
    /** The bridge network pods are attached to; absent, pods have loopback only. */
    readonly network?: BridgeNetwork,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** Marks the VCH as shutting down and waits for the operations under way. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#queues.values()]);
  }

  /** Refuses new work once the VCH is shutting down. */
  ensureOpen(): void {
    if (this.#closed) throw conflict('the VCH is shutting down');
  }

  /** A pod's `network` field for its info, when it is on the bridge. */
  networkOf(podId: string): { network?: PodNetworkInfo } {
    const network = this.network?.podInfo(podId);
    return network ? { network } : {};
  }

  containerDir(id: string): string {
    return join(this.stateDir, 'containers', id);
  }

  /** Removes a container's directory and its previous-log directory (previous-log.ts). */
  async removeContainerDir(id: string): Promise<void> {
    const dir = this.containerDir(id);
    await rm(dir, { recursive: true, force: true });
    await rm(previousLogDir(dir), { recursive: true, force: true });
  }

  /** Where a container's output is kept (iolog format). */
  logPath(id: string): string {
    return join(this.containerDir(id), 'output.log');
  }

  emit(
    type: VchEvent['type'],
    action: VchEvent['action'],
    id: string,
    attributes: Record<string, string>,
  ): void {
    const e: VchEvent = { type, action, id, time: nowNs(), attributes };
    this.events.emit('event', e);
    if (type === 'container') for (const fn of this.#watchers.get(id) ?? []) fn(e);
  }

  /** How many waits (and log followers) are watching container `id`. */
  watchersOf(id: string): number {
    return this.#watchers.get(id)?.size ?? 0;
  }

  /** Calls fn with each event of container `id` until the function it returns is called. */
  watchContainer(id: string, fn: (e: VchEvent) => void): () => void {
    let set = this.#watchers.get(id);
    if (!set) this.#watchers.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.#watchers.get(id) === set) this.#watchers.delete(id);
    };
  }

  /** Runs `fn` after the operations queued on container `id` before it. */
  serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.#queues.set(id, tail);
    void tail.then(() => {
      if (this.#queues.get(id) === tail) this.#queues.delete(id);
    });
    return next;
  }
}
