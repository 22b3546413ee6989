// A worker thread of the parallel encoder and decoder (parallel.ts). It runs the same code as
// the single-threaded paths, on one piece of input at a time: a LogWriter for encoding, and
// scanEntries with a LineSelector for decoding.

import { parentPort } from 'node:worker_threads';
import { Writable } from 'node:stream';
import { LogWriter } from './writer.js';
import { findEntry, scanEntries } from './scan.js';
import { LineSelector } from './select.js';
import {
  type DecodeJob,
  type DecodeReply,
  ENCODE_BATCH_BYTES,
  type EncodeJob,
  type EncodeReply,
} from './parallel.js';

const port = parentPort;
if (!port) throw new Error('iolog worker: not started as a worker thread');

port.on('message', (job: EncodeJob | DecodeJob) => {
  if (job.kind === 'encode') {
    encode(job).then(
      (reply) =>
        port.postMessage(reply, [
          ...reply.batches.map((b: Uint8Array) => b.buffer as ArrayBuffer),
          reply.data.buffer as ArrayBuffer,
        ]),
      (err: Error) => port.postMessage({ id: job.id, error: err.message }),
    );
  } else {
    const reply = decode(job);
    port.postMessage(reply, [reply.buf.buffer as ArrayBuffer]);
  }
});

/** Batch memory the main thread has sent back, for the next pieces' writers. */
const spares: Buffer[] = [];

/** Encodes a piece that ends at a line boundary: every entry it makes carries `time`. */
async function encode(job: EncodeJob): Promise<EncodeReply> {
  for (const b of job.spares) spares.push(Buffer.from(b));
  const batches: Uint8Array[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      batches.push(chunk); // the writer hands each batch over (it does not recycle)
      cb();
    },
  });
  const time = job.time;
  const writer = new LogWriter(sink, {
    clock: () => time,
    batchBytes: ENCODE_BATCH_BYTES,
    endSink: false,
    spares,
  });
  writer.write(job.stream, job.data);
  await writer.close();
  return { id: job.id, batches, data: job.data };
}

/** Decodes a block of a log in place; see DecodeJob. */
function decode(job: DecodeJob): DecodeReply {
  const { buf } = job;
  const start = job.exact ? 0 : findEntry(buf, 0, buf.length, job.final);
  if (start < 0) return { id: job.id, buf, runs: [], startAt: -1, endAt: -1 };
  const sel = new LineSelector({ stream: job.stream });
  sel.begin(buf);
  const endAt = scanEntries(buf, start, buf.length, job.final, sel);
  const runs: number[] = [];
  for (const c of sel.chunks())
    runs.push(c.stream, c.data.byteOffset - buf.byteOffset, c.data.length);
  return { id: job.id, buf, runs, startAt: start, endAt };
}
