// A container's output, read back from its log (iolog format): `docker logs` (optionally
// following until the container stops) and `docker attach` (what is written from now on, until
// the container's next exit).
import { access } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { type LogQuery, type StreamSelection, queryLog, validateQuery } from '../../iolog/index.js';
import { notFound } from '../errors.js';
import type { LogsRequest, WaitCondition } from '../types.js';
import type { ContainerService } from './containers.js';
import type { VchContext } from './context.js';
import { findContainer } from './lookup.js';
import { previousLogPath } from './previous-log.js';

export class LogService {
  constructor(
    private readonly ctx: VchContext,
    private readonly containers: ContainerService,
  ) {}

  /**
   * A container's output as an object-mode Readable of iolog chunks ({stream, data}). With
   * `follow` it ends when the container is no longer running (or `signal` aborts).
   */
  async logs(ref: string, req: LogsRequest = {}): Promise<Readable> {
    const row = findContainer(this.ctx.db, ref);
    const query: LogQuery = {
      ...(req.since !== undefined && { since: req.since }),
      ...(req.until !== undefined && { until: req.until }),
      ...(req.tail !== undefined && { tail: req.tail }),
      ...(req.stream && { stream: req.stream }),
      ...(req.timestamps && { timestamps: true }),
      ...(req.limitBytes !== undefined && { limitBytes: req.limitBytes }),
    };
    // Check now, so that a bad query or a missing log fails the call itself, not the stream.
    validateQuery(query);
    if (req.previous) {
      const prev = previousLogPath(this.ctx.logPath(row.id));
      await access(prev).catch(() => {
        throw notFound(`previous terminated container ${row.name} not found`);
      });
      return this.#stream(row.id, query, undefined, req.signal, prev);
    }
    // output.log, or (for the moment in which the tether rotates it) output.log.1.
    const log = this.ctx.logPath(row.id);
    try {
      await access(log).catch(() => access(`${log}.1`));
    } catch {
      throw notFound(`container ${row.id} has no log`);
    }
    return this.#stream(row.id, query, req.follow ? 'not-running' : undefined, req.signal);
  }

  /**
   * The container's output from now on, as `docker attach` (and `docker run` without -d) sees
   * it: what is written after this call, until the container's next exit or `signal` aborts.
   */
  async attach(
    ref: string,
    req: { stream?: StreamSelection; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    const row = findContainer(this.ctx.db, ref);
    const query: LogQuery = {
      // Everything stamped from now on: the tether stamps entries with the same clock.
      since: BigInt(Date.now()) * 1_000_000n,
      ...(req.stream && { stream: req.stream }),
    };
    const until = row.status === 'running' ? 'not-running' : 'next-exit';
    return this.#stream(row.id, query, until, req.signal);
  }

  /** Runs a query over a container's log; with `until`, follows until that wait resolves. */
  #stream(
    id: string,
    query: LogQuery,
    until: WaitCondition | undefined,
    outer: AbortSignal | undefined,
    path = this.ctx.logPath(id),
  ): Readable {
    // Following ends when the container stops, the caller aborts, or the stream is destroyed.
    const done = new AbortController();
    const signal = outer ? AbortSignal.any([outer, done.signal]) : done.signal;
    if (until) {
      query.follow = true;
      query.writerClosed = this.containers.wait(id, until, signal).catch(() => {});
    }
    query.signal = signal;
    const stream = Readable.from(queryLog(path, query), { objectMode: true });
    stream.once('close', () => done.abort());
    return stream;
  }
}
