// Encoding and decoding on several cores, for the big sequential jobs (the CLI over a whole
// file). Each worker thread runs the single-threaded code on one piece (worker.ts); this file
// cuts the input into pieces, keeps them in order and stitches their edges.
//
// Encoding: stdin is cut after the last newline of each chunk read (or at a multiple of 4095
// bytes when a line runs on), so no piece leaves an unterminated line to the next, and the
// entries a piece makes are those the single-threaded writer would make. Every entry of a piece
// carries the time its chunk arrived, as the writer's default arrivalClock does.
//
// Decoding: each worker finds the first confirmed entry of its block (as the since seek does)
// and decodes from there. The main thread decodes the few bytes between one block's last whole
// entry and the next block's first, and checks that the chain of entries it follows lands
// exactly where the next worker started. If it does not (junk, or a message that contains
// header-shaped bytes), the parallel results are dropped from there on and the caller goes on
// single-threaded from the true position, so the output is always what the sequential reader
// gives.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type PositionalReader, readAt } from './fileio.js';
import { HEADER_LENGTH, MAX_ENTRY, MAX_MESSAGE, type StreamId } from './format.js';
import { scanEntries } from './scan.js';
import { type LogChunk, LineSelector } from './select.js';
import type { Clock } from './clock.js';
import type { LogSink } from './writer.js';

export interface EncodeJob {
  kind: 'encode';
  id: number;
  data: Uint8Array;
  stream: StreamId;
  time: bigint;
  /** Batch memory the main thread is done with, back for reuse. */
  spares: ArrayBuffer[];
}
export interface EncodeReply {
  id: number;
  batches: Uint8Array[];
  /** The job's input, back for reuse. */
  data: Uint8Array;
  error?: string;
}
/** Batch size of the workers' writers (all the same, so that their memory can circulate). */
export const ENCODE_BATCH_BYTES = 1 << 20;
/**
 * A block of a log to decode in place. `exact`: the block starts at an entry boundary (else
 * the worker finds the first confirmed entry). `final`: nothing follows the block.
 */
export interface DecodeJob {
  kind: 'decode';
  id: number;
  buf: Uint8Array;
  exact: boolean;
  final: boolean;
  stream: 'stdout' | 'stderr' | 'all' | undefined;
}
/** Output runs as (stream, offset, length) triples into `buf`; where the chain began and ended. */
export interface DecodeReply {
  id: number;
  buf: Uint8Array;
  runs: number[];
  startAt: number;
  endAt: number;
  error?: string;
}

/** A job before the pool numbers it (Omit, distributed over the union). */
type NewJob = Omit<EncodeJob, 'id'> | Omit<DecodeJob, 'id'>;
type Reply = EncodeReply | DecodeReply;

/** Worker threads running worker.ts, each given the next job when it is least busy. */
export class WorkerPool {
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly pending = new Map<
    number,
    { resolve: (r: Reply) => void; reject: (e: Error) => void; slot: { busy: number } }
  >();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(readonly size: number = defaultWorkers()) {}

  run<R extends Reply>(job: NewJob, transfer: ArrayBuffer[]): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.workers.length < this.size) this.spawn();
    let slot = this.workers[0];
    for (const w of this.workers) if (w.busy < slot.busy) slot = w;
    const id = this.nextId++;
    slot.busy++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: Reply) => void, reject, slot });
      slot.worker.postMessage({ ...job, id }, transfer);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }

  private spawn(): void {
    const worker = new Worker(new URL('./worker.js', import.meta.url));
    const slot = { worker, busy: 0 };
    worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      p.slot.busy--;
      if (reply.error) p.reject(new Error(`iolog worker: ${reply.error}`));
      else p.resolve(reply);
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const [id, p] of this.pending) {
        if (p.slot === slot) {
          this.pending.delete(id);
          p.reject(err);
        }
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`iolog worker exited with status ${code}`));
    });
    this.workers.push(slot);
  }
}

/** One worker per core. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** Blocks below this size are not worth a worker; smaller regions stay single-threaded. */
export const PARALLEL_MIN_BYTES = 16 << 20;

export interface ParallelDecodeOptions {
  stream?: 'stdout' | 'stderr' | 'all';
  /** Nothing will follow `to` (not following a growing file). */
  final: boolean;
  blockBytes?: number;
  /** As LogQuery.recycle: the caller is done with a chunk when it asks for the next. */
  recycle?: boolean;
}

/**
 * Decodes the log region [from, to) with the pool; `from` is where a sequential reader would
 * go on. Yields what the sequential reader would (with a LineSelector that has nothing but a
 * stream selection), and returns the offset from which the caller goes on single-threaded:
 * the start of an unfinished entry at the end, or where the chain left the workers' blocks.
 */
export async function* decodeParallel(
  fh: PositionalReader,
  from: number,
  to: number,
  pool: WorkerPool,
  opts: ParallelDecodeOptions,
): AsyncGenerator<LogChunk, number> {
  const blockBytes = opts.blockBytes ?? 4 << 20;
  const spare: Buffer[] = [];
  const flights: { at: number; length: number; reply: Promise<DecodeReply> }[] = [];
  let next = from;
  let expected = from; // the chain's position: everything before it has been yielded
  for (;;) {
    while (flights.length < 2 * pool.size && next < to) {
      // allocUnsafeSlow: never a slice of Node's shared pool, which a transfer would take away.
      const buf = (opts.recycle && spare.pop()) || Buffer.allocUnsafeSlow(blockBytes);
      const length = await readAt(fh, buf, 0, Math.min(blockBytes, to - next), next);
      if (length === 0) {
        to = next; // the file shrank under us
        break;
      }
      const job: Omit<DecodeJob, 'id'> = {
        kind: 'decode',
        buf: buf.subarray(0, length),
        exact: next === from,
        final: opts.final && next + length >= to,
        stream: opts.stream,
      };
      flights.push({
        at: next,
        length,
        reply: pool.run<DecodeReply>(job, [buf.buffer as ArrayBuffer]),
      });
      next += length;
    }
    const flight = flights.shift();
    if (!flight) return expected;
    const r = await flight.reply;
    if (r.startAt < 0) return expected; // no whole entry in a block (junk): go on sequentially
    const start = flight.at + r.startAt;
    if (start !== expected) {
      const stitch = await stitchTo(fh, expected, start, to, opts);
      yield* stitch.chunks;
      if (stitch.resume !== start) return stitch.resume;
    }
    const buf = r.buf;
    for (let i = 0; i < r.runs.length; i += 3) {
      const data = Buffer.from(buf.buffer, buf.byteOffset + r.runs[i + 1], r.runs[i + 2]);
      yield { stream: r.runs[i] as StreamId, data };
    }
    if (opts.recycle) spare.push(Buffer.from(buf.buffer));
    expected = flight.at + r.endAt;
  }
}

/**
 * Decodes sequentially from `from` (a point of the chain) towards `to` (where a worker began),
 * stopping at the first entry at or past `to`. `resume` is that entry's offset: equal to `to`
 * when the chain lands where the worker began.
 */
async function stitchTo(
  fh: PositionalReader,
  from: number,
  to: number,
  fileEnd: number,
  opts: ParallelDecodeOptions,
): Promise<{ chunks: LogChunk[]; resume: number }> {
  const want = Math.min(fileEnd, to + MAX_ENTRY + HEADER_LENGTH) - from;
  const buf = Buffer.allocUnsafe(want);
  const length = await readAt(fh, buf, 0, want, from);
  const sel = new LineSelector({ stream: opts.stream });
  sel.begin(buf);
  const stop = to - from;
  let resume = -1;
  const end = scanEntries(buf, 0, length, opts.final && from + length >= fileEnd, {
    onEntry(b, hdr, msg, size, stream) {
      if (hdr >= stop) {
        resume = from + hdr;
        return false;
      }
      return sel.onEntry(b, hdr, msg, size, stream);
    },
  });
  // No entry at or past `to` in reach: the chain ends (unfinished) before it.
  if (resume < 0) resume = from + Math.min(end, stop);
  return { chunks: sel.chunks(), resume };
}

/**
 * Encodes everything `input` yields as entries of one stream and writes them, in order, to
 * `sink`, which must be done with the bytes when it calls back (a file, a socket, stdout; see
 * LogWriterOptions.recycle). `input` may reuse its buffer once the next chunk is asked for. The clock is read once
 * per chunk of input: its arrival time, carried by every entry completed in it.
 */
export async function encodeParallel(
  input: AsyncIterable<Uint8Array>,
  stream: StreamId,
  sink: LogSink,
  pool: WorkerPool,
  clock: Clock,
): Promise<void> {
  // Memory goes round instead of being allocated per piece (fresh memory costs a page fault
  // per 4 KiB): input pieces come back with the reply, batch memory once the sink is done.
  const pieces: Buffer[] = [];
  const done: ArrayBuffer[] = [];
  const flights: Promise<EncodeReply>[] = [];
  let carry: Buffer = Buffer.alloc(0);
  const send = (data: Buffer, time: bigint) => {
    const spares = done.splice(0);
    const job = { kind: 'encode' as const, data, stream, time, spares };
    flights.push(pool.run<EncodeReply>(job, [data.buffer as ArrayBuffer, ...spares]));
  };
  const drainOne = async () => {
    const r = await flights.shift()!;
    pieces.push(Buffer.from(r.data.buffer));
    for (const b of r.batches) {
      await writeTo(sink, b, () => done.push(b.buffer as ArrayBuffer));
    }
  };
  for await (const chunk of input) {
    const time = clock();
    const need = carry.length + chunk.length;
    let piece = pieces.pop();
    // allocUnsafeSlow: never a slice of Node's shared pool, which a transfer would take away.
    if (!piece || piece.length < need) piece = Buffer.allocUnsafeSlow(Math.max(need, PIECE_BYTES));
    piece.set(carry, 0);
    piece.set(chunk, carry.length);
    const data = piece.subarray(0, need);
    // Cut after the last newline and after the whole 4095-byte entries of the line that runs
    // on past it: exactly what the single-threaded writer would have written by now.
    const lineStart = data.lastIndexOf(0x0a) + 1;
    const cut = need - ((need - lineStart) % MAX_MESSAGE);
    carry = Buffer.from(data.subarray(cut));
    if (cut > 0) send(data.subarray(0, cut), time);
    else pieces.push(piece);
    while (flights.length > 2 * pool.size) await drainOne();
  }
  if (carry.length > 0) {
    const last = Buffer.allocUnsafeSlow(carry.length);
    last.set(carry);
    send(last, clock());
  }
  while (flights.length > 0) await drainOne();
}

/** Room for a 1 MiB read and the under-4095-byte line carried in front of it. */
const PIECE_BYTES = (1 << 20) + MAX_MESSAGE;

/** Writes, calling `written` once the sink is done with the bytes; waits while it is full. */
function writeTo(sink: LogSink, data: Uint8Array, written: () => void): Promise<void> | void {
  if (sink.write(data, () => written())) return;
  return new Promise((resolve) => sink.once('drain', () => resolve()));
}
