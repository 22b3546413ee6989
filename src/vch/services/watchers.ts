// Running containers as the runtime reports them: a watcher per running container that records
// its exit in the database (once per run) before the `die` event goes out, the host pid of each,
// and what follows an exit — a `--rm` container removed, a `docker run` container's own sandbox
// stopped.
import type { ContainerState } from '../../runtime/runtime.js';
import { errorKind } from '../errors.js';
import { type VchContext, nowIso } from './context.js';

/** Exit code recorded for a container that vanished without leaving one. */
export const LOST_EXIT_CODE = 255;

export class Watchers {
  /** Watchers of running containers, by id; aborted on close or when a new run starts. */
  readonly #watchers = new Map<string, AbortController>();
  /** Host pids of running containers, from the runtime. */
  readonly #pids = new Map<string, number>();

  constructor(
    private readonly ctx: VchContext,
    /** Removes a container (`--rm`): the container service's remove. */
    private readonly remove: (id: string) => Promise<void>,
  ) {}

  /** The host pid of a running container, if the runtime told it. */
  pid(id: string): number | undefined {
    return this.#pids.get(id);
  }

  /** Notes the host pid of a container the runtime reports running. */
  notePid(id: string, pid: number | undefined): void {
    if (pid !== undefined) this.#pids.set(id, pid);
  }

  /** Watches a running container until it exits, then records the exit. */
  watch(id: string): void {
    this.#watchers.get(id)?.abort();
    const ac = new AbortController();
    this.#watchers.set(id, ac);
    this.ctx.runtime.wait(id, ac.signal).then(
      (st) => {
        if (ac.signal.aborted) return;
        this.#watchers.delete(id);
        this.recordExit(id, st);
      },
      (e: unknown) => {
        if (ac.signal.aborted) return;
        this.#watchers.delete(id);
        this.ctx.log.error({ container: id, err: (e as Error).message }, 'lost track of container');
      },
    );
  }

  /** Stops watching a container (it is being removed). */
  unwatch(id: string): void {
    this.#watchers.get(id)?.abort();
    this.#watchers.delete(id);
  }

  /** Stops watching every container (the VCH closes; the containers keep running). */
  close(): void {
    for (const w of this.#watchers.values()) w.abort();
    this.#watchers.clear();
  }

  /** Records that a container is no longer running (once per run) and emits `die`. */
  recordExit(id: string, st: ContainerState): void {
    const { db } = this.ctx;
    const row = db.container(id);
    if (!row || row.status !== 'running') return;
    this.#pids.delete(id);
    db.updateState(
      id,
      {
        status: 'exited',
        startedAt: st.startedAt ?? row.startedAt,
        finishedAt: st.finishedAt ?? nowIso(),
        exitCode: st.exitCode ?? LOST_EXIT_CODE,
        ...(st.reason !== undefined && { error: st.reason }),
        ...(st.message !== undefined && { terminationMessage: st.message }),
      },
      row.restartCount,
    );
    this.#died(id, st.exitCode ?? LOST_EXIT_CODE);
  }

  /**
   * A start that failed (the command could not be run): as Docker, `die` goes out, so an
   * attached client (`docker run` in the foreground) ends, and a `--rm` container is removed.
   * The failure itself is on the container already (State.Error, the exit code).
   */
  recordStartFailure(id: string, exitCode: number): void {
    this.#died(id, exitCode);
  }

  #died(id: string, exitCode: number): void {
    const row = this.ctx.db.container(id);
    if (!row) return;
    this.ctx.emit('container', 'die', id, { name: row.name, exitCode: String(exitCode) });
    if (row.config.autoRemove) this.autoRemove(id);
    else this.#stopOwnSandbox(id, row.podId);
  }

  /** `docker run --rm`: removed once it has exited (queued behind the operation under way). */
  autoRemove(id: string): void {
    if (this.ctx.closed) return;
    this.remove(id).catch((e: unknown) => {
      if (errorKind(e) !== 'NotFound')
        this.ctx.log.warn({ container: id, err: (e as Error).message }, 'auto-remove failed');
    });
  }

  /**
   * A container with a sandbox of its own (`docker run`) is the whole pod: once it has exited,
   * its sandbox is stopped (a pod VM powered off; `docker start` boots it again). Queued behind
   * the container's operation under way.
   */
  #stopOwnSandbox(id: string, podId: string): void {
    const { ctx } = this;
    const { db, runtime } = ctx;
    if (ctx.closed || !runtime.stopSandbox || !db.pod(podId)?.implicit) return;
    void ctx
      .serial(id, async () => {
        if (db.container(id)?.status !== 'exited') return;
        await runtime.stopSandbox!(podId);
      })
      .catch((e: unknown) => {
        if (errorKind(e) !== 'NotFound' && errorKind(e) !== 'Conflict')
          ctx.log.warn({ pod: podId, err: (e as Error).message }, 'stopping a sandbox failed');
      });
  }
}
