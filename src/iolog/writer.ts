// The container-VM log writer: both output streams of one container in, iolog entries out.
//
// Lines are split after each '\n' (the newline stays in the entry); a line longer than 4095
// bytes becomes consecutive 4095-byte entries; each stream keeps its own unterminated remainder
// until its line ends or the writer closes. One clock reading per entry, in emission order.
//
// Hot path: input bytes are first copied (once per write call) into a staging area at the end of
// the same memory block that holds the output batch, so that each entry's message is moved with
// one `copyWithin` – a builtin that costs a third of `Buffer#copy`, which allocates a view per
// call. Entries accumulate in the batch and reach the sink in one write per batch.

import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { arrivalClock, type Clock } from './clock.js';
import {
  encodeHeader,
  encodeTime,
  MAX_ENTRY,
  TIME_CHARS,
  MAX_MESSAGE,
  type StreamId,
  Timestamps,
} from './format.js';

const NL = 0x0a;

export interface LogWriterOptions {
  /** Source of entry timestamps (Unix ns); read once per entry. Default: arrivalClock(). */
  clock?: Clock;
  /** Bytes of entries gathered before one write to the sink. Default 256 KiB. */
  batchBytes?: number;
  /**
   * While one stream is in the middle of a line longer than 4095 bytes (its first pieces are
   * already written), the other stream's output is held back so that it does not land inside
   * that line. It is held at most this long, or until `holdBytes` of it are waiting; after that
   * the long line is cut into two logical lines rather than delay the other stream further.
   */
  holdMs?: number;
  holdBytes?: number;
  /** End the sink when the writer closes. Default true. */
  endSink?: boolean;
  /**
   * The sink is done with a batch's memory when it calls back (true of files, sockets and
   * process.stdout; not of a PassThrough, whose reader gets the same memory), so batch memory
   * may be reused. Default false.
   */
  recycle?: boolean;
  /**
   * Batch memory to use before allocating: buffers of batchBytes + batchBytes/16 bytes (others
   * are passed over). Whoever gets batches back from the sink by other means (a worker thread
   * whose batches travel to another thread and back) refills it; close() leaves the writer's
   * unused memory in it. Fresh memory costs a page fault per 4 KiB on first touch.
   */
  spares?: Buffer[];
}

/** The minimal sink: a Node Writable (a file stream, a socket, process.stdout…). */
export type LogSink = Pick<Writable, 'write' | 'once' | 'end'> & {
  writableNeedDrain?: boolean;
};

interface StreamState {
  /** Unterminated remainder of the current line (not yet written as an entry). */
  partial: Uint8Array;
  partialLength: number;
  /** True when pieces of the current line were already written as 4095-byte entries. */
  open: boolean;
  /** Output held back while the other stream's long line is open. */
  held: Buffer[];
  heldBytes: number;
}

export class LogWriter extends EventEmitter {
  private readonly clock: Clock;
  private readonly batchBytes: number;
  private readonly holdMs: number;
  private readonly holdBytes: number;
  private readonly endSink: boolean;
  private readonly recycle: boolean;
  private readonly spare: Buffer[];
  private readonly ts = new Timestamps();

  /** Output batch in [0, batchBytes); staging of input in [batchBytes, mem.length). */
  private mem: Buffer;
  private length = 0;
  private readonly stageAt: number;
  private readonly stageBytes: number;
  /** Below this much room in the batch, send it before staging more input. */
  private readonly minPieceRoom: number;
  private readonly streams: [StreamState, StreamState];

  private flushScheduled = false;
  private holdTimer: NodeJS.Timeout | undefined;
  private pendingWrites = 0;
  private closed = false;
  private needDrain = false;
  private error: Error | undefined;
  private stdoutWritable: Writable | undefined;
  private stderrWritable: Writable | undefined;

  constructor(
    private readonly sink: LogSink,
    private readonly options: LogWriterOptions = {},
  ) {
    super();
    this.clock = options.clock ?? arrivalClock();
    this.batchBytes = Math.max(options.batchBytes ?? 256 * 1024, 2 * MAX_ENTRY);
    this.holdMs = options.holdMs ?? 50;
    this.holdBytes = options.holdBytes ?? 1 << 20;
    this.endSink = options.endSink ?? true;
    this.recycle = options.recycle ?? false;
    this.spare = options.spares ?? [];
    this.stageAt = this.batchBytes;
    this.stageBytes = Math.max(4096, this.batchBytes >>> 4);
    this.minPieceRoom = 17 * Math.min(4096, this.stageBytes);
    // A Buffer, not a plain Uint8Array: Buffer#indexOf is memchr, three times TypedArray's.
    this.mem = this.spareMemory() ?? Buffer.allocUnsafe(this.batchBytes + this.stageBytes);
    const state = (): StreamState => ({
      partial: new Uint8Array(MAX_MESSAGE),
      partialLength: 0,
      open: false,
      held: [],
      heldBytes: 0,
    });
    this.streams = [state(), state()];
  }

  /**
   * Appends output of one stream. Returns false when the sink asked to slow down; wait for the
   * 'drain' event before writing more (like Writable#write).
   */
  write(stream: StreamId, chunk: Uint8Array): boolean {
    if (this.closed) throw new Error('iolog: write after close');
    if (this.error) throw this.error;
    if (chunk.length === 0) return !this.needDrain;
    this.feed(stream, chunk);
    this.scheduleFlush();
    return !this.needDrain;
  }

  /** A Writable for one stream, e.g. to pipe a child process's stdout into. */
  writable(stream: StreamId): Writable {
    const existing = stream === 0 ? this.stdoutWritable : this.stderrWritable;
    if (existing) return existing;
    const w = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        try {
          if (this.write(stream, chunk)) cb();
          else this.once('drain', () => cb());
        } catch (err) {
          cb(err as Error);
        }
      },
    });
    if (stream === 0) this.stdoutWritable = w;
    else this.stderrWritable = w;
    return w;
  }

  get stdout(): Writable {
    return this.writable(0);
  }
  get stderr(): Writable {
    return this.writable(1);
  }

  /** Writes the gathered entries to the sink now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.length === 0) return;
    const used = this.mem;
    const batch = used.subarray(0, this.length);
    // The sink keeps `batch` until it is written, so the next batch gets other memory: a spare
    // one when the sink has handed a batch back, which spares the page faults of fresh memory.
    this.mem = this.spareMemory() ?? Buffer.allocUnsafe(used.length);
    this.length = 0;
    this.pendingWrites++;
    const ok = this.sink.write(batch, (err) => {
      if (this.recycle && this.spare.length < 2) this.spare.push(used);
      this.pendingWrites--;
      if (err && !this.error) {
        this.error = err;
        this.emit('error', err);
      }
      if (this.pendingWrites === 0) this.emit('written');
    });
    if (!ok && !this.needDrain) {
      this.needDrain = true;
      this.sink.once('drain', () => {
        this.needDrain = false;
        this.emit('drain');
      });
    }
  }

  /**
   * Writes the unterminated remainder of each stream, everything held back, and waits until
   * the sink has every byte. Ends the sink unless `endSink: false`.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    // A stream in the middle of a long line finishes it before the other's held output.
    const first: StreamId = this.streams[1].open ? 1 : 0;
    this.finishLine(first);
    this.releaseHeld((first ^ 1) as StreamId);
    this.finishLine((first ^ 1) as StreamId);
    this.flush();
    if (this.pendingWrites > 0) await new Promise((resolve) => this.once('written', resolve));
    if (this.endSink) {
      await new Promise<void>((resolve) => this.sink.end(() => resolve()));
    }
    if (this.options.spares && this.length === 0) this.spare.push(this.mem);
    if (this.error) throw this.error;
  }

  private spareMemory(): Buffer | undefined {
    const size = this.batchBytes + this.stageBytes;
    while (this.spare.length > 0) {
      const b = this.spare.pop()!;
      if (b.length === size) return b;
    }
    return undefined;
  }

  // --- encoding -------------------------------------------------------------------------------

  /**
   * Encodes `chunk` for `stream`, or holds it back while the other stream is in a long line.
   * It is staged in pieces small enough that a piece's entries always fit in the batch (an
   * input byte becomes at most 17 output bytes: a one-byte line and its header), so the batch is
   * only ever sent between pieces, never in the middle of one.
   */
  private feed(stream: StreamId, chunk: Uint8Array): void {
    const st = this.streams[stream];
    const other = this.streams[stream ^ 1];
    for (let i = 0; i < chunk.length;) {
      if (other.open) {
        this.hold(stream, chunk.subarray(i));
        return;
      }
      let room = this.batchBytes - this.length - MAX_ENTRY;
      if (room < this.minPieceRoom) {
        this.flush();
        room = this.batchBytes - MAX_ENTRY;
      }
      const n = Math.min(chunk.length - i, this.stageBytes, Math.floor(room / 17));
      this.mem.set(chunk.subarray(i, i + n), this.stageAt);
      i += this.encodeStaged(stream, this.stageAt, this.stageAt + n);
      // Our long line just ended: what the other stream held back meanwhile goes next, before
      // the rest of our chunk. (It is encoded through the staging area, which is why
      // encodeStaged stopped there rather than go on over bytes that are about to be replaced.)
      if (other.held.length > 0 && !st.open) this.releaseHeld((stream ^ 1) as StreamId);
    }
  }

  /**
   * Encodes the staged bytes mem[start, end) of one stream; returns how many it took. It stops
   * early just after a long line ends while the other stream has output held back.
   */
  private encodeStaged(stream: StreamId, start: number, end: number): number {
    const st = this.streams[stream];
    const other = this.streams[stream ^ 1];
    const mem = this.mem;
    let s = start;
    if (st.partialLength > 0) {
      const wasOpen = st.open;
      s = this.completePartial(stream, st, s, end);
      if (wasOpen && !st.open && other.held.length > 0) return s - start;
    }
    while (s < end) {
      let nl = mem.indexOf(NL, s);
      if (nl >= end) nl = -1;
      const lineEnd = nl < 0 ? end : nl + 1;
      while (lineEnd - s >= MAX_MESSAGE && (nl < 0 || lineEnd - s > MAX_MESSAGE)) {
        this.writeEntry(stream, s, MAX_MESSAGE);
        s += MAX_MESSAGE;
        st.open = true;
      }
      if (nl < 0) {
        if (s < end) {
          st.partial.set(mem.subarray(s, end), 0);
          st.partialLength = end - s;
        }
        return end - start;
      }
      this.writeEntry(stream, s, lineEnd - s);
      s = lineEnd;
      if (st.open) {
        st.open = false;
        if (other.held.length > 0) return s - start;
      }
    }
    return end - start;
  }

  /** Joins staged bytes onto the stream's unterminated remainder; returns the new position. */
  private completePartial(stream: StreamId, st: StreamState, s: number, end: number): number {
    const mem = this.mem;
    const p = st.partialLength;
    const room = MAX_MESSAGE - p;
    const limit = Math.min(end, s + room);
    let nl = mem.indexOf(NL, s);
    if (nl >= limit) nl = -1;
    let take: number;
    if (nl >= 0) take = nl + 1 - s;
    else if (limit - s === room) take = room;
    else {
      st.partial.set(mem.subarray(s, end), p);
      st.partialLength += end - s;
      return end;
    }
    const at = this.header(stream, p + take);
    mem.set(st.partial.subarray(0, p), at);
    mem.copyWithin(at + p, s, s + take);
    this.length = at + p + take;
    st.partialLength = 0;
    st.open = nl < 0; // a full 4095 bytes without a newline: the line goes on
    return s + take;
  }

  /** Writes one entry whose message is staged at mem[s, s+n). */
  private writeEntry(stream: StreamId, s: number, n: number): void {
    const at = this.header(stream, n);
    this.mem.copyWithin(at, s, s + n);
    this.length = at + n;
  }

  /** Writes a header at the end of the batch (one clock reading); returns the message offset. */
  private header(stream: StreamId, size: number): number {
    const t = this.clock();
    // Consecutive entries often carry the same time: encode its characters once.
    if (t !== this.lastTime) {
      this.lastTime = t;
      encodeTime(this.ts.set(t), this.timeChars);
    }
    return encodeHeader(this.mem, this.length, this.timeChars, size, stream);
  }
  private lastTime: bigint | undefined;
  private readonly timeChars = new Uint8Array(TIME_CHARS);

  /** Writes the stream's unterminated remainder as an entry; its line is over. */
  private finishLine(stream: StreamId): void {
    const st = this.streams[stream];
    if (st.partialLength > 0) {
      if (this.length + MAX_ENTRY > this.batchBytes) this.flush();
      const at = this.header(stream, st.partialLength);
      this.mem.set(st.partial.subarray(0, st.partialLength), at);
      this.length = at + st.partialLength;
      st.partialLength = 0;
    }
    st.open = false;
  }

  // --- holding the other stream back during a long line ---------------------------------------

  private hold(stream: StreamId, chunk: Uint8Array): void {
    const st = this.streams[stream];
    st.held.push(Buffer.from(chunk)); // the caller may reuse its buffer
    st.heldBytes += chunk.length;
    if (st.heldBytes >= this.holdBytes) {
      this.cutOpenLine((stream ^ 1) as StreamId);
      return;
    }
    if (!this.holdTimer) {
      this.holdTimer = setTimeout(() => {
        this.holdTimer = undefined;
        if (this.streams[0].held.length > 0) this.cutOpenLine(1);
        if (this.streams[1].held.length > 0) this.cutOpenLine(0);
        this.scheduleFlush();
      }, this.holdMs);
      this.holdTimer.unref?.();
    }
  }

  /** Gives up waiting for `stream`'s long line to end: the other stream's output goes now. */
  private cutOpenLine(stream: StreamId): void {
    this.streams[stream].open = false;
    this.releaseHeld((stream ^ 1) as StreamId);
  }

  private releaseHeld(stream: StreamId): void {
    const st = this.streams[stream];
    if (st.held.length === 0) return;
    const held = st.held;
    st.held = [];
    st.heldBytes = 0;
    if (this.holdTimer && this.streams[stream ^ 1].held.length === 0) {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
    }
    // If the other stream opens a long line again, feed holds the rest once more, in order.
    for (const chunk of held) this.feed(stream, chunk);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.length === 0) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }
}
