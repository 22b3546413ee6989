// The logical-line filter of the query engine: what of each entry goes out, written over the
// input in place (message bytes move down over the headers with one copyWithin per entry), and
// cut into one chunk per run of one stream.

import { continuesLine, type StreamId, Timestamps } from './format.js';
import type { EntryHandler } from './scan.js';
import { TIMESTAMP_PREFIX_LENGTH, TimestampFormatter } from './time.js';

/** A run of output of one stream. */
export interface LogChunk {
  stream: StreamId;
  data: Buffer;
}

/** The parts of a query that decide, entry by entry, what goes out. */
export interface SelectorOptions {
  since?: bigint;
  until?: bigint;
  stream?: 'stdout' | 'stderr' | 'all';
  timestamps?: boolean;
  limitBytes?: number;
}

/** Filters entries into logical lines and writes the selected output over the input. */
export class LineSelector implements EntryHandler {
  stopped = false;
  private out: Uint8Array = new Uint8Array(0);
  private w = 0;
  private runStream = -1;
  private runStart = 0;
  private runs: LogChunk[] = [];
  private prevContinues = false;
  private prevStream = -1;
  private skip = false;
  private sincePending: boolean;
  private readonly since: bigint;
  private readonly until: bigint | undefined;
  private readonly mask: number;
  private readonly timestamps: boolean;
  private readonly needTime: boolean;
  private limit: number;
  /** No times and no limit to mind (any since already met): the fast path. */
  plain: boolean;
  private readonly ts = new Timestamps();
  private readonly fmt = new TimestampFormatter();
  private readonly prefix = new Uint8Array(TIMESTAMP_PREFIX_LENGTH);

  constructor(q: SelectorOptions) {
    this.since = q.since ?? 0n;
    this.sincePending = q.since !== undefined;
    this.until = q.until;
    this.mask = q.stream === 'stdout' ? 1 : q.stream === 'stderr' ? 2 : 3;
    this.timestamps = q.timestamps ?? false;
    this.needTime = this.sincePending || this.until !== undefined || this.timestamps;
    this.limit = q.limitBytes ?? Infinity;
    this.plain = false;
    this.updatePlain();
  }

  /** Starts on a new block; output is compacted from its start. */
  begin(buf: Uint8Array): void {
    this.out = buf;
    this.w = 0;
    this.runStream = -1;
    this.runStart = 0;
  }

  /** The output of the block, one chunk per run of one stream. */
  chunks(): LogChunk[] {
    this.cut(-1);
    const runs = this.runs;
    this.runs = [];
    return runs;
  }

  onEntry(buf: Uint8Array, hdr: number, msg: number, size: number, stream: number): boolean {
    if (this.plain) {
      // No times and no limit: every entry of a selected stream goes out as it is, whatever
      // line it belongs to (a line's entries share its stream). The common case, kept short.
      if (((this.mask >> stream) & 1) === 0) return true;
      if (stream !== this.runStream) this.cut(stream);
      buf.copyWithin(this.w, msg, msg + size);
      this.w += size;
      return true;
    }
    const lineStart = !(this.prevContinues && this.prevStream === stream);
    this.prevContinues = continuesLine(buf, msg, size);
    this.prevStream = stream;
    if (lineStart) {
      let ns = 0n;
      if (this.needTime) {
        ns = this.ts.read(buf, hdr);
        if (this.until !== undefined && ns > this.until) {
          this.stopped = true;
          return false;
        }
        if (this.sincePending) {
          if (ns < this.since) {
            this.skip = true;
            return true;
          }
          this.sincePending = false;
          this.updatePlain();
        }
      }
      this.skip = ((this.mask >> stream) & 1) === 0;
      if (!this.skip && this.timestamps) {
        if (stream !== this.runStream) this.cut(stream);
        if (this.limit >= TIMESTAMP_PREFIX_LENGTH) {
          this.w = this.fmt.write(this.out, this.w, ns);
          this.limit -= TIMESTAMP_PREFIX_LENGTH;
        } else {
          this.fmt.write(this.prefix, 0, ns);
          this.out.set(this.prefix.subarray(0, this.limit), this.w);
          this.w += this.limit;
          this.limit = 0;
          this.stopped = true;
          return false;
        }
      }
    }
    if (this.skip) return true;
    if (stream !== this.runStream) this.cut(stream);
    let n = size;
    if (n >= this.limit) {
      n = this.limit;
      this.stopped = true;
    }
    this.out.copyWithin(this.w, msg, msg + n);
    this.w += n;
    this.limit -= n;
    return !this.stopped;
  }

  private updatePlain(): void {
    this.plain =
      !this.sincePending && this.until === undefined && !this.timestamps && this.limit === Infinity;
  }

  private cut(stream: number): void {
    if (this.w > this.runStart) {
      const o = this.out;
      this.runs.push({
        stream: this.runStream as StreamId,
        data: Buffer.from(o.buffer, o.byteOffset + this.runStart, this.w - this.runStart),
      });
    }
    this.runStream = stream;
    this.runStart = this.w;
  }
}
