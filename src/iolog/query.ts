// The log query engine: `docker logs` / `kubectl logs` semantics over an iolog file.
//
// A logical line is a run of consecutive same-stream entries in which every entry but the last
// is exactly 4095 bytes with no trailing '\n'; it carries the timestamp of its first entry.
// Order of operations, as Docker's: `tail` N logical lines (counted across both streams) first;
// then `since` (the first logical line at or after it, and everything after that) and `until`
// (stop after the last line at or before it), both inclusive to the nanosecond; then the stream
// selection, the timestamp prefix and the byte limit.
//
// `since` and `tail` never read the whole file: since is a binary search over byte offsets
// (entries are written in time order) and tail reads backwards block by block, so both cost
// O(log n) or O(tail) reads. The output is compacted in place in each block that is read: message
// bytes move down over the headers with one copyWithin per entry, and each run of one stream's
// bytes leaves as one chunk.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { InvalidInputError } from './errors.js';
import { continuesLine, MAX_ENTRY, Timestamps } from './format.js';
import { type LogChunk, LineSelector } from './select.js';
import { type EntryHandler, findEntry, PROBE_BYTES, scanEntries } from './scan.js';
import { TIMESTAMP_PREFIX_LENGTH } from './time.js';
import { systemClock } from './clock.js';
import { type PositionalReader, readAt, readAtSync } from './fileio.js';
import { RotatedLog } from './rotated.js';
import { decodeParallel, PARALLEL_MIN_BYTES, WorkerPool } from './parallel.js';

export type { LogChunk };

export type StreamSelection = 'stdout' | 'stderr' | 'all';

export interface LogQuery {
  /** Unix ns: start with the first logical line at or after this time. */
  since?: bigint;
  /** Unix ns: stop after the last logical line at or before this time. */
  until?: bigint;
  /** Only the last N logical lines (both streams count). Undefined or Infinity: all. */
  tail?: number;
  stream?: StreamSelection;
  /** Prefix each logical line with `2006-01-02T15:04:05.000000000Z `. */
  timestamps?: boolean;
  /** Stop after this many output bytes (prefixes included), as kubelet's limitBytes. */
  limitBytes?: number;
  /** Keep reading as the file grows, until `writerClosed` settles or `signal` aborts. */
  follow?: boolean;
  /** Settles when the writer has closed the log: follow reads what is left and ends. */
  writerClosed?: Promise<unknown>;
  signal?: AbortSignal;
  /** Bytes read per step (default 1 MiB). */
  blockBytes?: number;
  /**
   * The caller is done with a chunk's memory once it asks for the next chunk (it wrote the
   * bytes out, and waited for the write to complete): memory is reused, sparing the page faults
   * of fresh memory per block. Default false: every chunk keeps its own memory.
   */
  recycle?: boolean;
  /**
   * Worker threads for big reads: when what is left to read is large and the query has nothing
   * but a stream selection left to apply, blocks are decoded on this many threads. Default 0.
   */
  workers?: number;
}

/** Checks a query's numbers; throws InvalidInputError naming the bad field. */
export function validateQuery(q: LogQuery): void {
  if (q.tail !== undefined && q.tail !== Infinity && !(Number.isSafeInteger(q.tail) && q.tail >= 0))
    throw new InvalidInputError(`invalid tail ${q.tail}: want a whole number ≥ 0 or "all"`);
  if (q.limitBytes !== undefined && !(Number.isSafeInteger(q.limitBytes) && q.limitBytes > 0))
    throw new InvalidInputError(`invalid limit-bytes ${q.limitBytes}: want a whole number > 0`);
  if (q.stream !== undefined && !['stdout', 'stderr', 'all'].includes(q.stream))
    throw new InvalidInputError(
      `invalid stream ${JSON.stringify(q.stream)}: want stdout, stderr or all`,
    );
}

/**
 * Runs a query over the iolog file at `path` and its rotated files (path.N … path.1, path: one
 * log, oldest first; rotated.ts), yielding its output stream by stream.
 */
export async function* queryLog(path: string, q: LogQuery = {}): AsyncGenerator<LogChunk> {
  validateQuery(q);
  const fh = await RotatedLog.open(path);
  const watcher = q.follow ? new Growth(path, q) : undefined;
  try {
    let size = fh.size;
    let pos = 0;
    if (q.tail !== undefined && q.tail !== Infinity) pos = await seekTail(fh, size, q.tail);
    if (q.since !== undefined) pos = await seekSince(fh, pos, size, q.since);
    const sel = new LineSelector(q);
    const block = Math.max(q.blockBytes ?? 1 << 20, 64 * 1024);
    // Each block is read into memory of its own (fresh, or reused with `recycle`) with room
    // before it for the unfinished entry carried over from the block before; with timestamps
    // also room to compact into, since a line's output (31-byte prefix) outgrows its input
    // (16-byte header). The next block is read while this one is worked on. Big plain reads go
    // to the worker threads (parallel.ts) instead.
    const head = (n: number) => (q.timestamps ? n + MAX_ENTRY + 2 * TIMESTAMP_PREFIX_LENGTH : 0);
    const blockMemory = head(block) + MAX_ENTRY + block;
    const spare: Buffer[] = [];
    const readBlock = (at: number, n: number) => {
      const buf = (q.recycle && spare.pop()) || Buffer.allocUnsafe(blockMemory);
      const from = buf.length - n;
      return { buf, from, got: readAt(fh, buf, from, n, at) };
    };
    let ahead: ReturnType<typeof readBlock> | undefined;
    let carry: Uint8Array = new Uint8Array(0);
    let previous: Buffer | undefined;
    let closed = !q.follow;
    let pool: WorkerPool | undefined;
    let parallelTried = false;
    try {
      for (;;) {
        if (
          !parallelTried &&
          q.workers &&
          sel.plain &&
          size - (pos - carry.length) >= PARALLEL_MIN_BYTES
        ) {
          parallelTried = true;
          if (ahead) await ahead.got; // its bytes are read again by the parallel decoder
          ahead = undefined;
          pool = new WorkerPool(q.workers);
          pos = yield* decodeParallel(fh, pos - carry.length, size, pool, {
            stream: q.stream,
            final: closed,
            recycle: q.recycle,
          });
          carry = new Uint8Array(0);
          previous = undefined;
          continue;
        }
        if (ahead === undefined && pos < size) ahead = readBlock(pos, Math.min(size - pos, block));
        if (ahead !== undefined) {
          const { buf, from } = ahead;
          const want = buf.length - from;
          const got = await ahead.got;
          pos += got;
          const start = from - carry.length;
          buf.set(carry, start);
          // The previous block's chunks are consumed (we were asked for more) and its carry is
          // copied: its memory may take the next read.
          if (q.recycle && previous) spare.push(previous);
          ahead =
            pos < size && got === want ? readBlock(pos, Math.min(size - pos, block)) : undefined;
          const end = from + got;
          const final = closed && !fh.behind && pos >= size && ahead === undefined;
          sel.begin(buf);
          const next = scanEntries(buf, start, end, final, sel);
          yield* sel.chunks();
          if (sel.stopped) return;
          carry = buf.subarray(next, end);
          previous = buf;
          if (got < want) size = pos; // the file shrank under us
          continue;
        }
        if (closed && !fh.behind) {
          if (carry.length > 0) {
            const buf = Buffer.allocUnsafe(2 * carry.length + 2 * TIMESTAMP_PREFIX_LENGTH);
            const start = buf.length - carry.length;
            buf.set(carry, start);
            sel.begin(buf);
            scanEntries(buf, start, buf.length, true, sel);
            yield* sel.chunks();
          }
          return;
        }
        // Follow: wait for the file to grow, the writer to close, the caller to abort, or until.
        // Once closed this returns at once: a log still behind a rotation (fh.behind) is listed
        // again until the listing settles, as it does with the writer done.
        const event = await watcher!.next();
        if (event === 'abort' || event === 'until') return;
        if (event === 'closed') closed = true;
        // The newest file grew, or was rotated and newer files follow it.
        size = await fh.refresh(pos - carry.length);
      }
    } finally {
      await pool?.close();
    }
  } finally {
    watcher?.close();
    await fh.close();
  }
}

// The seeks read a few small blocks each with synchronous reads: a round trip through the
// thread pool per probe would cost more than the reads themselves (tens of microseconds from
// the page cache), and the whole seek is done in well under a millisecond.

/**
 * Offset of an entry at or before the first logical line with timestamp ≥ since, at or after
 * `from`: a binary search over byte offsets that lands anywhere and finds the next confirmed
 * entry there. What is left (under 64 KiB) the query's scan skips through.
 */
async function seekSince(
  fh: PositionalReader,
  from: number,
  size: number,
  since: bigint,
): Promise<number> {
  let lo = from;
  let hi = size;
  const probe = Buffer.allocUnsafe(PROBE_BYTES);
  const ts = new Timestamps();
  while (hi - lo > SCAN_BYTES) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const got = readAtSync(fh, probe, 0, PROBE_BYTES, mid);
    const off = findEntry(probe, 0, got, mid + got >= size);
    // No entry in a whole probe (a long run of junk): the scan from lo will walk through it.
    if (off < 0 || ts.read(probe, off) >= since) hi = mid;
    else lo = mid + off;
  }
  return lo;
}
const SCAN_BYTES = 64 * 1024;

/**
 * Offset of the start of the n-th last logical line (0 when there are fewer): reads backwards
 * in blocks, each ending at the first entry of the block after it, so memory stays one block
 * and the cost is O(n) however large the file.
 */
async function seekTail(fh: PositionalReader, size: number, n: number): Promise<number> {
  if (n === 0) return size;
  let end = size; // an entry boundary: the end of the file or the first entry of a later block
  let laterStream = -1; // stream of the entry at `end`, whose line start depends on ours
  let need = n;
  let span = SCAN_BYTES;
  while (end > 0) {
    const start = Math.max(0, end - span);
    const buf = Buffer.allocUnsafe(end - start);
    const len = readAtSync(fh, buf, 0, buf.length, start);
    const first = start === 0 ? 0 : findEntry(buf, 0, len, true);
    if (first < 0) {
      span *= 2; // no whole entry in the block (junk): look further back
      continue;
    }
    const starts = new LineStarts(start === 0);
    scanEntries(buf, first, len, true, starts);
    if (laterStream >= 0 && !starts.continuesInto(laterStream) && --need === 0) return end;
    const offsets = starts.offsets;
    if (offsets.length >= need) return start + offsets[offsets.length - need];
    if (start === 0) return 0;
    need -= offsets.length;
    laterStream = starts.firstStream;
    end = start + first;
    span = SCAN_BYTES;
  }
  return 0;
}

/** Collects the offsets of entries that begin a logical line. */
class LineStarts implements EntryHandler {
  readonly offsets: number[] = [];
  firstStream = -1;
  private prevContinues = false;
  private prevStream = -1;

  /** `atFileStart`: the first entry seen is known to begin a line. */
  constructor(private readonly atFileStart: boolean) {}

  onEntry(buf: Uint8Array, hdr: number, msg: number, size: number, stream: number): boolean {
    if (this.firstStream < 0) {
      // The first entry of a block that starts mid-file may continue a line begun before it:
      // the block before decides (continuesInto).
      this.firstStream = stream;
      if (this.atFileStart) this.offsets.push(hdr);
    } else if (!(this.prevContinues && this.prevStream === stream)) {
      this.offsets.push(hdr);
    }
    this.prevContinues = continuesLine(buf, msg, size);
    this.prevStream = stream;
    return true;
  }

  /** Whether the last entry seen continues into a following entry of `stream`. */
  continuesInto(stream: number): boolean {
    return this.prevContinues && this.prevStream === stream;
  }
}

type GrowthEvent = 'grew' | 'closed' | 'abort' | 'until';

/**
 * Waits for a followed log to change: file-system notification (inotify) on the file, with a
 * stat poll only as a fallback where watching is not possible.
 */
class Growth {
  private dirty = true;
  private wake: ((e: GrowthEvent) => void) | undefined;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private untilTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private ended: GrowthEvent | undefined;

  constructor(path: string, q: LogQuery) {
    const grew = () => {
      this.dirty = true;
      this.fire('grew');
    };
    // The directory, not the file: after a rotation the output goes to a new file of that name.
    const base = basename(path);
    const ours = (name: string | null) => !name || name === base || name.startsWith(`${base}.`);
    try {
      // Persistent: a follower waiting for output is what keeps a `logs -f` process alive.
      this.watcher = watch(dirname(path), { persistent: true }, (_e, name) => {
        if (ours(name)) grew();
      });
      this.watcher.on('error', () => this.startPolling(grew));
    } catch {
      this.startPolling(grew);
    }
    q.writerClosed?.then(
      () => {
        this.closed = true;
        this.fire('closed');
      },
      () => {
        this.closed = true;
        this.fire('closed');
      },
    );
    const onAbort = () => this.end('abort');
    if (q.signal?.aborted) this.end('abort');
    else q.signal?.addEventListener('abort', onAbort, { once: true });
    if (q.until !== undefined) {
      const ms = Number((q.until - systemClock()) / 1_000_000n);
      this.untilTimer = setTimeout(
        () => this.end('until'),
        Math.max(0, Math.min(ms + 1, 2 ** 31 - 1)),
      );
    }
  }

  /** Resolves when there may be more to read, or why following is over. */
  next(): Promise<GrowthEvent> {
    if (this.ended) return Promise.resolve(this.ended);
    if (this.closed) return Promise.resolve('closed');
    if (this.dirty) {
      this.dirty = false;
      return Promise.resolve('grew');
    }
    return new Promise((resolve) => {
      this.wake = (e) => {
        this.dirty = false;
        resolve(e);
      };
    });
  }

  close(): void {
    this.watcher?.close();
    if (this.poll) clearInterval(this.poll);
    if (this.untilTimer) clearTimeout(this.untilTimer);
  }

  private end(e: GrowthEvent): void {
    this.ended = e;
    this.fire(e);
  }

  private fire(e: GrowthEvent): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.(e);
  }

  private startPolling(grew: () => void): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (!this.poll) this.poll = setInterval(grew, 50);
  }
}
