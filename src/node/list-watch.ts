// List, then watch from the list's resourceVersion; resume the watch from the last version
// seen after a disconnect, and list again when the apiserver says that version is gone (410).
// Between the two, a relist is compared with what was known, so an object deleted or changed
// while the watch was down still yields its event: an apiserver restart loses nothing.
import * as k8s from '@kubernetes/client-node';
import { apiStatus, isApiGone, type Kube } from './kube.js';
import type { Logger } from '../logging/logger.js';

export type WatchEvent<T> =
  { type: 'added' | 'updated'; object: T } | { type: 'deleted'; object: T };

interface Listed<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

export interface ListWatchOptions<T extends k8s.KubernetesObject> {
  kube: Kube;
  /** API path of the collection, e.g. /api/v1/pods. */
  path: string;
  /** Field selector for both list and watch. */
  fieldSelector?: string;
  list(fieldSelector: string | undefined): Promise<Listed<T>>;
  onEvent(event: WatchEvent<T>): void;
  /** Called after each successful (re)list, with every object now known. */
  onSynced?(objects: T[]): void;
  log: Logger;
  /** Delay before retrying a failed list or watch; grows to 30 s. */
  backoffMs?: number;
}

const keyOf = (o: k8s.KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;

export class ListWatch<T extends k8s.KubernetesObject> {
  /** Every object as last seen, by namespace/name. */
  readonly cache = new Map<string, T>();
  private resourceVersion: string | undefined;
  private abort: AbortController | undefined;
  private stopped = false;
  private failures = 0;
  private synced!: Promise<void>;
  private markSynced!: () => void;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ListWatchOptions<T>) {
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  /** Starts; resolves after the first list has been delivered. */
  start(): Promise<void> {
    void this.relist();
    return this.synced;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }

  private retry(what: () => Promise<void>, err: unknown, doing: string): void {
    if (this.stopped) return;
    this.failures++;
    const base = this.o.backoffMs ?? 500;
    const delay = Math.min(30_000, base * 2 ** Math.min(this.failures - 1, 6));
    this.o.log.warn(
      { path: this.o.path, err: err instanceof Error ? err.message : String(err), delay },
      `${doing} failed; retrying`,
    );
    this.timer = setTimeout(() => void what(), delay);
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    let listed: Listed<T>;
    try {
      listed = await this.o.kube.call(() => this.o.list(this.o.fieldSelector));
    } catch (err) {
      this.retry(() => this.relist(), err, 'list');
      return;
    }
    if (this.stopped) return;
    // Replace: what is gone was deleted, what is new was added, what differs was updated.
    const seen = new Set<string>();
    for (const obj of listed.items) {
      const key = keyOf(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.o.onEvent({ type: 'added', object: obj });
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        this.o.onEvent({ type: 'updated', object: obj });
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.o.onEvent({ type: 'deleted', object: old });
      }
    }
    this.resourceVersion = listed.metadata?.resourceVersion;
    this.o.onSynced?.([...this.cache.values()]);
    this.markSynced();
    void this.watch();
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    let gone = false;
    let sawEvent = false;
    const done = new Promise<unknown>((resolve) => {
      const query = {
        resourceVersion: this.resourceVersion,
        fieldSelector: this.o.fieldSelector,
        allowWatchBookmarks: true,
        // The server ends each watch after a while (as client-go's reflector asks), so a
        // connection that silently died is noticed.
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
      };
      new k8s.Watch(this.o.kube.config)
        .watch(
          this.o.path,
          query,
          (phase: string, obj: T & { code?: number }) => {
            sawEvent = true;
            if (phase === 'ERROR') {
              if (obj.code === 410) gone = true;
              this.abort?.abort();
              return;
            }
            const rv = obj.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (phase === 'BOOKMARK') return;
            const key = keyOf(obj);
            if (phase === 'DELETED') {
              this.cache.delete(key);
              this.o.onEvent({ type: 'deleted', object: obj });
            } else {
              const known = this.cache.has(key);
              this.cache.set(key, obj);
              this.o.onEvent({ type: known ? 'updated' : 'added', object: obj });
            }
          },
          resolve,
        )
        .then((abort) => (this.abort = abort), resolve);
    });
    const err = await done;
    if (this.stopped) return;
    if (gone || isApiGone(err)) {
      this.o.log.info({ path: this.o.path }, 'watch: resource version gone; listing again');
      this.failures = 0;
      void this.relist();
    } else if (err) {
      // Could not connect (the apiserver is down?): retry the watch from where we were.
      this.retry(() => this.watch(), err, `watch (status ${apiStatus(err) ?? 'none'})`);
    } else {
      if (sawEvent) this.failures = 0;
      // A clean end (timeout or the server closed): resume at once, or after a short pause
      // if the watch delivered nothing (an apiserver shutting down closes watches at once).
      if (sawEvent) void this.watch();
      else this.retry(() => this.watch(), new Error('watch closed'), 'watch');
    }
  }
}
